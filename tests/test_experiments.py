"""Every experiment at toy size: files written, schema kept, resume works."""

import json

import pytest

from experiments import agreement, equivalence, long_dependency

SCHEMA = {"experiment", "config", "versions", "device", "runs"}
RUN_KEYS = {
    "model", "task", "length", "metric", "value", "baseline", "params",
    "seconds_per_epoch", "epochs", "seed",
}  # fmt: skip
TOY = [
    "--epochs", "1", "--train-size", "64", "--validation-size", "16",
    "--test-size", "32", "--units", "4", "--quiet",
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("task", ["adding", "copy", "temporal_order"])
def test_long_dependency_at_toy_size(task, tmp_path, capsys):
    out = tmp_path / task
    args = ["--task", task, "--lengths", "12", "--models", "GatedGRU",
            "SimpleRNN", "--output", str(out), *TOY]  # fmt: skip
    long_dependency.main(args)
    data = json.loads((out / "results.json").read_text())
    assert set(data) == SCHEMA
    assert len(data["runs"]) == 2
    for run in data["runs"]:
        assert RUN_KEYS <= set(run)
        assert run["task"] == task
    assert (out / f"{task}_vs_length.png").stat().st_size > 10_000
    assert "| GatedGRU |" in (out / "summary.md").read_text()
    # Started again on the same folder: nothing is trained twice.
    capsys.readouterr()
    long_dependency.main(args)
    assert capsys.readouterr().out.count("done before") == 2
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 2


@pytest.mark.slow
def test_agreement_main_command_at_toy_size(tmp_path):
    out = tmp_path / "agreement"
    agreement.main(
        [
            "--lengths",
            "6",
            "10",
            "--figure-length",
            "10",
            "--output",
            str(out),
            *TOY,
        ],  # fmt: skip
        defaults=long_dependency.Config(task="agreement"),
    )
    data = json.loads((out / "results.json").read_text())
    assert len(data["runs"]) == 10
    assert {r["model"] for r in data["runs"]} == set(long_dependency.ALL_MODELS)
    for name in ("agreement_vs_length", "agreement_gates_heatmap",
                 "agreement_memory_unit", "agreement_saturation"):  # fmt: skip
        assert (out / f"{name}.png").stat().st_size > 10_000
    summary = (out / "summary.md").read_text()
    assert "GatedLSTM vs LSTM (chrono, T=10)" in summary
    assert "Verdict on the article's claim:" in summary


def test_a_folder_with_another_config_is_refused(tmp_path):
    out = tmp_path / "x"
    args = ["--task", "adding", "--lengths", "8", "--models", "SimpleRNN",
            "--output", str(out), *TOY]  # fmt: skip
    long_dependency.main(args)
    with pytest.raises(ValueError, match="another configuration"):
        long_dependency.main(args[:-1] + ["--units", "5", "--quiet"])


def test_unknown_names_fail_at_once(tmp_path):
    with pytest.raises(ValueError, match="valid models: GatedLSTM"):
        long_dependency.main(
            ["--models", "Transformer", "--output", str(tmp_path)]
        )
    with pytest.raises(ValueError, match="valid tasks"):
        long_dependency.main(["--task", "parity", "--output", str(tmp_path)])


def test_equivalence_experiment_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(
        equivalence,
        "OPTIONS",
        {"default": {}, "go_backwards": {"go_backwards": True}},
    )
    equivalence.main(["--output", str(tmp_path)])
    data = json.loads((tmp_path / "results.json").read_text())
    assert len(data["runs"]) == 4
    assert max(r["output_max_abs_diff"] for r in data["runs"]) < 1e-6


@pytest.mark.slow
def test_claims_report_at_toy_size(tmp_path):
    from experiments import claims

    claims.main(["--quick", "--quiet", "--output", str(tmp_path)])
    report = (tmp_path / "REPORT.md").read_text()
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in report
    assert report.count("**Verdict:**") == 5
    assert (tmp_path / "gradient_flow" / "gradient_flow.png").exists()
    flow = json.loads((tmp_path / "gradient_flow" / "results.json").read_text())
    assert len(flow["runs"]) == 5
    assert all(len(r["gradient_init"]) == 14 for r in flow["runs"])


@pytest.mark.slow
def test_benchmark_at_toy_size(tmp_path):
    from experiments import benchmark

    benchmark.main(["--quick", "--output", str(tmp_path)])
    data = json.loads((tmp_path / "results.json").read_text())
    train = [r for r in data["runs"] if r["mode"] == "train"]
    models = {r["model"] for r in train}
    assert {"keras.layers.LSTM", "GatedLSTM, gates off", "GatedLSTM, gates on",
            "keras.layers.GRU", "GatedGRU, gates on"} <= models  # fmt: skip
    assert all(r["value"] > 0 for r in data["runs"] if r["mode"] != "memory")
    assert (tmp_path / "benchmark.png").stat().st_size > 10_000


@pytest.mark.slow
def test_callback_cost_at_toy_size(tmp_path):
    from experiments import callback_cost

    callback_cost.main(
        ["--output", str(tmp_path), "--repeats", "1", "--sequences", "128"]
    )
    data = json.loads((tmp_path / "results.json").read_text())
    assert [r["task"] for r in data["runs"]] == [
        "without callbacks",
        "with GateRecorder + GatePlotter",
    ]
    assert data["runs"][0]["overhead"] == 0.0
