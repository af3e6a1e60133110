"""The experiments' model builder: initialisations by name."""

import numpy as np
import pytest

from keras_gates.training import recurrent_layer


@pytest.mark.parametrize("init,gain", [("default", 1.0), ("gain:0.5", 0.5),
                                       ("gain:1.5", 1.5)])  # fmt: skip
def test_a_gain_scales_the_orthogonal_recurrent_kernel(init, gain):
    layer = recurrent_layer("SimpleRNN", 6, init=init, seed=3)
    layer.build((None, 5, 4))
    kernel = np.asarray(layer.cell.recurrent_kernel)
    np.testing.assert_allclose(
        kernel @ kernel.T, gain**2 * np.eye(6), atol=1e-5
    )


@pytest.mark.parametrize("init", ["gain:", "gain:-1", "gain:x", "orthogonal"])
def test_an_unknown_init_is_named(init):
    with pytest.raises(ValueError, match=f"got {init!r}"):
        recurrent_layer("SimpleRNN", 6, init=init)
