"""Writes tests/data/saved_0_1_0.keras with keras_gates 0.1.0's layout."""

import keras
import numpy as np

from keras_gates import Chrono, GatedGRU, GatedLSTM

keras.utils.set_random_seed(0)
inputs = keras.Input((6, 4))
x = keras.layers.Bidirectional(
    GatedLSTM(3, return_sequences=True, name="lstm"), name="bi"
)(inputs)
x = GatedLSTM(
    3,
    variant="cifg",
    peepholes=True,
    return_sequences=True,
    bias_initializer=Chrono(6),
    unit_forget_bias=False,
    name="cifg",
)(x)
x = GatedGRU(3, variant="mgu", return_sequences=True, name="mgu")(x)
x = GatedGRU(5, name="gru", reset_after=False)(x)
outputs = keras.layers.Dense(1)(x)
model = keras.Model(inputs, outputs, name="saved_0_1_0")
# Non-zero weights everywhere (peepholes start at zero).
rng = np.random.default_rng(0)
model.set_weights(
    [
        rng.normal(scale=0.5, size=w.shape).astype("float32")
        for w in model.get_weights()
    ]
)
x = np.arange(2 * 6 * 4, dtype="float32").reshape(2, 6, 4) / 48.0
model.save("tests/data/saved_0_1_0.keras")
np.save("tests/data/saved_0_1_0_inputs.npy", x)
np.save(
    "tests/data/saved_0_1_0_outputs.npy", keras.ops.convert_to_numpy(model(x))
)
print(model(x))
