"""Gate statistics on hand-made arrays with known answers."""

import numpy as np
import pytest

from keras_gates.inspection.stats import (
    class_separation,
    gate_summary,
    log_statistics,
    quantiles,
    saturation_per_unit,
)


def test_summary_counts_saturation_and_skips_nan():
    values = np.array([0.05, 0.5, 0.95, 0.99, np.nan])
    summary = gate_summary("forget", values)
    assert summary["left_saturated"] == 0.25
    assert summary["right_saturated"] == 0.5
    np.testing.assert_allclose(
        summary["mean"], np.mean([0.05, 0.5, 0.95, 0.99])
    )
    np.testing.assert_allclose(summary["std"], np.std([0.05, 0.5, 0.95, 0.99]))


def test_candidate_has_no_saturation_and_states_are_not_logged():
    gates = {
        "lstm": {
            "candidate": np.array([-1.0, 1.0]),
            "cell": np.ones(2),
            "hidden": np.ones(2),
        }
    }
    assert log_statistics(gates) == {
        "gates/lstm/candidate_mean": 0.0,
        "gates/lstm/candidate_std": 1.0,
    }


def test_saturation_per_unit():
    values = np.array(
        [[[0.0, 1.0], [0.05, 0.95]], [[0.5, np.nan], [0.95, 0.5]]]
    )  # (batch 2, time 2, units 2)
    left, right = saturation_per_unit(values)
    np.testing.assert_allclose(left, [0.5, 0.0])
    np.testing.assert_allclose(right, [0.25, 2 / 3])


def test_values_at_the_thresholds_are_not_saturated():
    """Saturation is strict: < low, > high. 0.25 and 0.75 are exact in
    float32, so they sit exactly on custom thresholds."""
    values = np.array([0.25, 0.75, 0.2, 0.8, 0.5])
    summary = gate_summary("input", values, low=0.25, high=0.75)
    assert summary["left_saturated"] == 0.2
    assert summary["right_saturated"] == 0.2
    left, right = saturation_per_unit(values[None, :, None], 0.25, 0.75)
    np.testing.assert_allclose([left[0], right[0]], [0.2, 0.2])
    default = gate_summary("forget", np.array([0.1, 0.9, 0.5]))
    assert default["left_saturated"] == default["right_saturated"] == 0.0
    logs = log_statistics({"l": {"reset": values}}, low=0.25, high=0.75)
    assert logs["gates/l/reset_left_saturated"] == 0.2
    assert logs["gates/l/reset_right_saturated"] == 0.2


def test_summary_of_an_all_masked_gate_is_nan():
    summary = gate_summary("forget", np.full(4, np.nan))
    assert np.isnan(summary["mean"]) and np.isnan(summary["std"])
    assert summary["left_saturated"] == summary["right_saturated"] == 0.0
    assert set(gate_summary("cell", np.ones(3))) == {"mean", "std"}


def test_quantiles_skip_nan_and_follow_numpy():
    values = np.array([[0.0, np.nan, 1.0], [2.0, 3.0, np.nan], [4.0, 5, 6]])
    valid = np.array([0.0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(
        quantiles(values), np.quantile(valid, [0.05, 0.25, 0.5, 0.75, 0.95])
    )
    np.testing.assert_allclose(quantiles(values, qs=(0.5,)), [3.0])
    empty = quantiles(np.full(3, np.nan), qs=(0.1, 0.9))
    assert empty.shape == (2,) and np.isnan(empty).all()


def test_class_separation_is_d_prime_per_step_and_unit():
    # (batch 4, time 2, units 1); labels 1, 1, 0, 0.
    values = np.array([[[1.0], [5.0]], [[5.0], [5.0]],
                       [[0.0], [1.0]], [[0.0], [3.0]]])  # fmt: skip
    separation = class_separation(values, [1, 1, 0, 0])
    assert separation.shape == (2, 1)
    # step 0: means 3 vs 0, variances 4 and 0: d' = 3 / sqrt(2).
    # step 1: means 5 vs 2, variances 0 and 1: d' = 3 / sqrt(0.5).
    np.testing.assert_allclose(
        separation[:, 0], [3 / np.sqrt(2), 3 / np.sqrt(0.5)], rtol=1e-6
    )
    # Swapping the labels changes nothing: the distance is absolute.
    np.testing.assert_allclose(
        class_separation(values, [0, 0, 1, 1]), separation
    )
    with pytest.raises(ValueError, match="^labels must contain both classes$"):
        class_separation(values, [1, 1, 1, 1])


def test_class_separation_of_constant_classes_is_large_not_infinite():
    values = np.array([[[1.0]], [[1.0]], [[0.0]], [[0.0]]])
    separation = class_separation(values, [1, 1, 0, 0])
    assert np.isfinite(separation).all() and separation[0, 0] > 1e6


def test_saturation_counts_each_value_once():
    # One valid value: its own fraction, not a half.
    assert gate_summary("forget", np.array([0.95]))["right_saturated"] == 1.0
    values = np.array([[[0.95, 0.05]], [[np.nan, 0.5]]])  # unit 0: one value
    left, right = saturation_per_unit(values)
    np.testing.assert_allclose(left, [0.0, 0.5])
    np.testing.assert_allclose(right, [1.0, 0.0])
    # States are skipped wherever they come in the dict, not only last.
    gates = {"l": {"cell": np.ones(2), "input": np.array([0.95, 0.5])}}
    assert log_statistics(gates)["gates/l/input_right_saturated"] == 0.5
