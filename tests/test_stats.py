"""Gate statistics on hand-made arrays with known answers."""

import numpy as np

from keras_gates.stats import gate_summary, log_statistics, saturation_per_unit


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
