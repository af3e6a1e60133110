"""The experiments' model builder: initialisations by name."""

import numpy as np
import pytest

from experiments._training import recurrent_layer


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


@pytest.mark.parametrize("model", ["GatedLSTM", "LSTM"])
def test_forget_bias_by_init(model):
    """Jozefowicz et al.'s comparison: forget bias 0, 1 (Keras) or chrono;
    blocks i, f, c, o."""
    blocks = {}
    for init in ("forget0", "default", "chrono"):
        layer = recurrent_layer(model, 50, init=init, max_timesteps=40)
        layer.build((None, 5, 3))
        blocks[init] = np.split(np.asarray(layer.cell.bias), 4)
    assert all(np.all(b == 0) for b in blocks["forget0"])
    i, f, c, o = blocks["default"]
    assert np.all(f == 1) and all(np.all(b == 0) for b in (i, c, o))
    i, f, c, o = blocks["chrono"]
    assert 0 <= f.min() and f.max() <= np.log(39) and f.std() > 0.3
    np.testing.assert_array_equal(i, -f)
    assert np.all(c == 0) and np.all(o == 0)


@pytest.mark.parametrize("model", ["GatedGRU", "GRU", "SimpleRNN"])
def test_forget0_needs_a_forget_gate(model):
    with pytest.raises(ValueError, match=f"forget bias to 0; {model}"):
        recurrent_layer(model, 4, init="forget0")
