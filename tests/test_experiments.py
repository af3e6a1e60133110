"""Every experiment at toy size: files written, schema kept, resume works."""

import json
import math
import os

import keras
import numpy as np
import pytest

from experiments import (
    _gradient_map,
    _long_dependency,
    agreement,
    equivalence,
    long_dependency,
)

SCHEMA = {
    "experiment",
    "config",
    "versions",
    "device",
    "command",
    "date",
    "runs",
}
RUN_KEYS = {
    "model", "task", "length", "metric", "value", "baseline", "params",
    "seconds_per_epoch", "epochs", "seed",
}  # fmt: skip
TOY = [
    "--epochs", "1", "--train-size", "64", "--validation-size", "16",
    "--test-size", "32", "--units", "4", "--quiet",
]  # fmt: skip


# The headline metric and its chance level at T=12, from the tasks'
# definitions: adding predicts 1 (MSE 1/6), copy is memoryless (10 ln 8
# nats over T + 20 steps), temporal order guesses one of four classes.
METRICS = {"adding": "mse", "copy": "cross_entropy",
           "temporal_order": "accuracy", "agreement": "accuracy"}  # fmt: skip
CHANCE = {"adding": 1 / 6, "copy": 10 * math.log(8) / 32,
          "temporal_order": 0.25, "agreement": 0.5}  # fmt: skip


def assert_sane(run):
    """Finite numbers in their ranges."""
    for key in ("value", "baseline", "seconds_per_epoch"):
        assert math.isfinite(run[key]), key
    assert run["seconds_per_epoch"] > 0
    assert run["epochs"] == 1
    if run["metric"] == "accuracy":
        assert 0.0 <= run["value"] <= 1.0
    else:
        assert run["value"] >= 0.0
    assert isinstance(run["params"], int) and run["params"] > 0


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
        assert_sane(run)
        assert run["metric"] == METRICS[task]
        assert run["baseline"] == pytest.approx(CHANCE[task])
    assert (out / f"{task}_vs_length.png").stat().st_size > 10_000
    assert "| GatedGRU |" in (out / "summary.md").read_text()
    # Started again on the same folder: nothing is trained twice.
    capsys.readouterr()
    long_dependency.main(args)
    assert capsys.readouterr().out.count("done before") == 2
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 2
    # The page opens with the command, machine and date; --report writes
    # the same page again from results.json alone.
    page = (out / "summary.md").read_text()
    command = f"`python -m experiments.long_dependency --task {task} "
    assert page.splitlines()[2].startswith(command)
    assert f"Measured on {data['device']}, {data['date']}" in page
    (out / "summary.md").unlink()
    long_dependency.main(["--report", "--output", str(out)])
    assert (out / "summary.md").read_text() == page
    assert "done before" not in capsys.readouterr().out


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
    assert {r["model"] for r in data["runs"]} == set(
        _long_dependency.ALL_MODELS
    )
    for run in data["runs"]:
        assert_sane(run)
        assert run["metric"] == "accuracy" and run["baseline"] == 0.5
    for name in ("agreement_vs_length", "agreement_gates_heatmap",
                 "agreement_memory_unit", "agreement_saturation"):  # fmt: skip
        assert (out / f"{name}.png").stat().st_size > 10_000
    summary = (out / "summary.md").read_text()
    assert "GatedLSTM vs LSTM (chrono, T=10)" in summary
    assert "Verdict on the article's claim:" in summary


def test_a_run_stops_after_the_first_epoch_that_reaches_stop_at(tmp_path):
    # Validation accuracy is at least 0 after every epoch, at most 1: a
    # threshold of 0 is off, 1e-9 stops after epoch 1, 1.01 never stops.
    args = ["--task", "agreement", "--lengths", "6", "--models",
            "SimpleRNN", *TOY, "--epochs", "3"]  # fmt: skip
    for stop_at, epochs in ((0.0, 3), (1e-9, 1), (1.01, 3)):
        out = tmp_path / str(stop_at)
        long_dependency.main(
            [*args, "--stop-at", str(stop_at), "--output", str(out)]
        )
        (run,) = json.loads((out / "results.json").read_text())["runs"]
        assert run["epochs"] == epochs
        assert len(run["history"]["val_accuracy"]) == epochs
    assert (
        "reaches 1e-09 (the epochs column"
        in (out.parent / "1e-09" / "summary.md").read_text()
    )


@pytest.mark.slow
def test_runs_in_two_workers_record_what_one_process_records(tmp_path, capfd):
    """`--workers 2`: two processes of the same command, one thread each,
    take the runs between them; the main store gets every run, with the
    numbers one process gets (each run seeds itself), and the page says
    the runs were timed side by side."""
    args = ["--task", "agreement", "--lengths", "6", "8", "--models",
            "SimpleRNN", "GatedGRU", *TOY]  # fmt: skip
    long_dependency.main([*args, "--output", str(tmp_path / "one")])
    capfd.readouterr()
    long_dependency.main(
        [*args, "--output", str(tmp_path / "two"), "--workers", "2"]
    )
    # Each run trained once, by one of the two workers.
    assert capfd.readouterr().out.count("--- model") == 4
    one, two = (
        json.loads((tmp_path / name / "results.json").read_text())
        for name in ("one", "two")
    )
    assert len(two["runs"]) == len(one["runs"]) == 4

    def by_key(runs):
        return {(r["model"], r["length"]): r for r in runs}

    alone, side_by_side = by_key(one["runs"]), by_key(two["runs"])
    assert alone.keys() == side_by_side.keys()
    for key, run in alone.items():
        assert side_by_side[key]["value"] == pytest.approx(run["value"])
        np.testing.assert_allclose(
            side_by_side[key]["history"]["loss"],
            run["history"]["loss"],
            rtol=1e-5,
        )
    assert set(one) == SCHEMA and set(two) == SCHEMA | {"workers"}
    assert two["workers"] == 2
    assert (
        "trained 2 at a time" in (tmp_path / "two" / "summary.md").read_text()
    )
    assert "at a time" not in (tmp_path / "one" / "summary.md").read_text()
    assert not (tmp_path / "two" / "workers").exists()


def test_worker_stores_are_gathered_once(tmp_path):
    """An interrupted `--workers` invocation: the runs its workers
    finished are recorded in the main store, once."""
    from experiments._runner import (
        ResultsStore,
        gather_workers,
        worker_store_folder,
    )

    config = long_dependency.Config(task="adding")
    store = ResultsStore(tmp_path, "x", config)
    store.add({"model": "A", "init": "d", "length": 5, "seed": 0})
    for worker, model in ((0, "A"), (1, "B")):
        piece = ResultsStore(worker_store_folder(tmp_path, worker), "x", config)
        piece.add({"model": model, "init": "d", "length": 5, "seed": 0})
    keys = ("model", "init", "length", "seed")
    assert gather_workers(store, keys) == 1
    assert gather_workers(store, keys) == 0
    assert sorted(r["model"] for r in store.runs) == ["A", "B"]
    reread = json.loads((tmp_path / "results.json").read_text())
    assert sorted(r["model"] for r in reread["runs"]) == ["A", "B"]


def test_two_workers_by_default_only_on_a_multicore_cpu(monkeypatch):
    from experiments import _runner

    cases = [(2, [], 2), (16, [], 2), (1, [], 1), (None, [], 1)]
    cases.append((16, ["NVIDIA H200"], 1))
    for cores, gpus, expected in cases:
        monkeypatch.setattr(_runner.os, "cpu_count", lambda c=cores: c)
        monkeypatch.setattr(_runner, "_accelerators", lambda _, g=gpus: g)
        assert _runner.default_workers() == expected, (cores, gpus)


ZEN3 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx fma avx2 bmi2

processor\t: 1
cpu family\t: 99
model\t\t: 99
model name\t: other
flags\t\t: avx512f avx2
"""


@pytest.mark.parametrize(
    "cpuinfo, expected",
    [
        (ZEN3, "CPU: AMD EPYC (family 25 model 1, AVX2), 2 cores"),
        (
            ZEN3.replace("model\t\t: 1", "model\t\t: 17").replace(
                "avx2 bmi2", "avx2 avx512f bmi2"
            ),
            "CPU: AMD EPYC (family 25 model 17, AVX-512), 2 cores",
        ),
        (
            "model name\t: Some CPU\nflags\t: sse2\n",
            "CPU: Some CPU, 2 cores",
        ),
    ],
    ids=["avx2", "avx512", "no-family"],
)
def test_the_cpu_is_named_with_its_generation(monkeypatch, cpuinfo, expected):
    """Virtual machines name different hosts alike ("AMD EPYC"); the
    family, model and vector width, read from the first processor only,
    tell them apart."""
    from experiments import _runner

    monkeypatch.setattr(_runner, "_cpuinfo", lambda: cpuinfo)
    monkeypatch.setattr(_runner, "_accelerators", lambda _: [])
    monkeypatch.setattr(_runner.os, "cpu_count", lambda: 2)
    assert _runner.device() == expected


def test_every_flag_of_the_main_command_says_what_it_does_and_its_default():
    import argparse

    from experiments import _long_dependency

    defaults = _long_dependency.Config(task="agreement", stop_at=0.95)
    arguments = _long_dependency.command_parser(defaults, "d", workers=2)
    for action in arguments._actions:
        if action.dest in ("help", "worker"):
            continue
        assert action.help and not action.help.startswith("("), action.dest
        assert action.help != argparse.SUPPRESS
    text = " ".join(arguments.format_help().split())
    for expected in [
        "--lengths LENGTHS [LENGTHS ...] dependency lengths (timesteps "
        "between the cue and the answer), one run of each model at each "
        "(default: 20 100 200)",
        "95% intervals and verdicts (default: 1)",
        "--data-seeds, --no-data-seeds draw new data for each seed (else "
        "one data set) (default: off)",
        "(0: train every epoch) (default: 0.95)",
        "(default: GatedLSTM GatedGRU LSTM GRU SimpleRNN)",
        "attractor nouns, for each k given (Linzen et al. 2016) (default: "
        "none)",
    ]:
        assert expected in text, expected


def test_a_flag_without_its_own_help_says_the_shared_meaning_and_default():
    import dataclasses

    from experiments._runner import parser

    @dataclasses.dataclass
    class Toy:
        seed: int = 3
        batch_size: int = 8
        probes: list = dataclasses.field(default_factory=lambda: [1, 2])

    helps = {"batch_size": "probes per step, 5% of them"}
    actions = {
        a.dest: a.help for a in parser(Toy(), "d", None, helps=helps)._actions
    }
    assert actions["seed"] == (
        "the random seed (the first one, where --seeds asks for more) "
        "(default: 3)"
    )
    assert actions["batch_size"] == "probes per step, 5%% of them (default: 8)"
    assert actions["probes"] == "(default: 1 2)"


def test_workers_must_be_at_least_one(tmp_path):
    with pytest.raises(ValueError, match="--workers must be at least 1, got 0"):
        long_dependency.main(["--workers", "0", "--output", str(tmp_path)])


def test_a_folder_with_another_config_is_refused(tmp_path):
    out = tmp_path / "x"
    args = ["--task", "adding", "--lengths", "8", "--models", "SimpleRNN",
            "--output", str(out), *TOY]  # fmt: skip
    long_dependency.main(args)
    with pytest.raises(ValueError, match="another configuration"):
        long_dependency.main(args[:-1] + ["--units", "5", "--quiet"])


def test_a_folder_from_before_a_new_field_resumes_at_its_default(
    tmp_path, capsys
):
    # A results.json written before `stop_at` existed: resumed as is, and
    # refused when the new field is given another value.
    out = tmp_path / "x"
    args = ["--task", "adding", "--lengths", "8", "--models", "SimpleRNN",
            "--output", str(out), *TOY]  # fmt: skip
    long_dependency.main(args)
    path = out / "results.json"
    data = json.loads(path.read_text())
    del data["config"]["stop_at"]
    path.write_text(json.dumps(data))
    capsys.readouterr()
    long_dependency.main(args)
    assert capsys.readouterr().out.count("done before") == 1
    with pytest.raises(ValueError, match="another configuration"):
        long_dependency.main([*args, "--stop-at", "0.5"])


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
    assert data["command"] == (
        f"python -m experiments.equivalence --output {tmp_path}"
    )
    page = (tmp_path / "summary.md").read_text()
    assert "## What this shows" in page
    with pytest.raises(FileNotFoundError, match="--report reads"):
        equivalence.main(["--report", "--output", str(tmp_path / "none")])


@pytest.mark.slow
def test_claims_report_at_toy_size(tmp_path):
    from experiments import claims

    claims.main(["--quick", "--quiet", "--seeds", "2", "--output",
                 str(tmp_path)])  # fmt: skip
    report = (tmp_path / "REPORT.md").read_text()
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6.",
                    "## 7."):  # fmt: skip
        assert heading in report
    assert report.count("**Verdict:**") == 7
    assert "2 seeds per cell" in report
    # Every sweep ran each planned run once per seed, with sane values and
    # the task's chance level.
    sizes = {"agreement": 10, "twins": 4, "adding": 10, "temporal_order": 10}
    for task, runs_per_seed in sizes.items():
        runs = json.loads((tmp_path / task / "results.json").read_text())
        runs = runs["runs"]
        assert len(runs) == 2 * runs_per_seed, task
        assert sorted({r["seed"] for r in runs}) == [0, 1]
        for run in runs:
            assert_sane(run)
            assert run["baseline"] == pytest.approx(CHANCE[run["task"]])
    # Agreement runs carry their accuracy on 0..4 attractors.
    agreement_runs = json.loads(
        (tmp_path / "agreement" / "results.json").read_text()
    )["runs"]
    for run in agreement_runs:
        assert sorted(run["attractors"]) == ["0", "1", "2", "3", "4"]
        assert all(0.0 <= v <= 1.0 for v in run["attractors"].values())
    # The twins are identical to the gated layers, seed by seed.
    assert report.count("identical on all 2 seeds") == 4
    gradient = json.loads(
        (tmp_path / "gradient_map" / "results.json").read_text()
    )["runs"]
    assert len(gradient) == 2 * 7
    copy = json.loads((tmp_path / "chrono_copy" / "results.json").read_text())
    assert len(copy["runs"]) == 2 * 2
    for run in copy["runs"]:
        assert run["baseline"] == pytest.approx(10 * math.log(8) / 40)
        assert run["steps"] == [0, 3, 6]
    for figure in ("agreement/agreement_attractors.png",
                   "gradient_map/gradient_map.png",
                   "chrono_copy/chrono_copy.png"):  # fmt: skip
        assert (tmp_path / figure).stat().st_size > 10_000
    minutes = float((tmp_path / "timing.txt").read_text())
    assert 0 < minutes < 30
    # --report rewrites the report from the records, the same.
    claims.main(["--quick", "--report", "--seeds", "2", "--output",
                 str(tmp_path)])  # fmt: skip
    assert (tmp_path / "REPORT.md").read_text() == report


def _cell(task, model, init, length, values, metric="accuracy", base=0.5):
    return [
        {"task": task, "model": model, "init": init, "length": length,
         "value": v, "metric": metric, "baseline": base, "seed": seed}
        for seed, v in enumerate(values)
    ]  # fmt: skip


def test_claim_verdicts_come_from_intervals():
    from experiments import claims

    results = {
        "agreement": (
            _cell("agreement", "GatedLSTM", "chrono", 50,
                  [0.99, 0.98, 0.99, 1.0, 0.97])
            + _cell("agreement", "GatedLSTM", "default", 50,
                    [0.5, 0.51, 0.49, 0.5, 0.52])
            + _cell("agreement", "GatedGRU", "chrono", 50,
                    [0.6, 0.95, 0.5, 0.99, 0.7])
            + _cell("agreement", "GatedGRU", "default", 50,
                    [0.5, 0.5, 0.5, 0.5, 0.5])
            + _cell("agreement", "SimpleRNN", "default", 50,
                    [0.5, 0.49, 0.51, 0.5, 0.5])
        ),
        "adding": (
            _cell("adding", "GatedLSTM", "default", 50,
                  [0.01, 0.012, 0.011, 0.009, 0.01], "mse", 1 / 6)
            + _cell("adding", "GatedGRU", "default", 50,
                    [0.003, 0.002, 0.004, 0.003, 0.002], "mse", 1 / 6)
            + _cell("adding", "SimpleRNN", "default", 50,
                    [0.003, 0.002, 0.004, 0.003, 0.002], "mse", 1 / 6)
        ),
    }  # fmt: skip
    rows, outcome = claims.plain_rnn_outcomes(results)
    # Agreement: the chrono LSTM's interval lies far above the SimpleRNN's;
    # adding: the SimpleRNN equals the best gated layer (no difference).
    assert outcome == {"worse": ["agreement T=50"],
                       "unresolved": ["adding T=50"], "better": []}  # fmt: skip
    verdict = claims.claim_plain_rnn_forgets(results, []).verdict
    assert verdict.startswith(
        "holds partly. A gated layer beat the SimpleRNN (intervals apart) on "
        "agreement T=50; no difference resolved on adding T=50"
    )
    # mean 0.986, sd sqrt(520e-6 / 4) = 0.0114, t(0.975, 4) = 2.776:
    # half-width 2.776 * 0.0114 / sqrt(5) = 0.0142.
    assert "0.986 [0.972, 1.000] (GatedLSTM, chrono) | 5/5" in rows[2]
    section = claims.claim_comparable(results)
    # LSTM - GRU on agreement: [0.99-0.6, ...] paired; its interval holds
    # 0 (the GRU's seeds spread), so not resolved; on adding the GRU's MSE
    # is lower on every seed: the GRU is ahead.
    assert "no difference resolved on agreement T=50;" in section.verdict
    assert (
        "adding T=50 (GatedGRU ahead by 0.0076; both solved on every seed)"
        in section.verdict
    )


def test_a_store_takes_more_seeds_but_no_other_change(tmp_path):
    from experiments._runner import ResultsStore

    config = long_dependency.Config(seeds=1)
    store = ResultsStore(tmp_path, "x", config)
    store.add({"model": "m", "seed": 0, "value": 1.0})
    grown = ResultsStore(tmp_path, "x", long_dependency.Config(seeds=5))
    assert grown.runs == [{"model": "m", "seed": 0, "value": 1.0}]
    assert grown.data["config"]["seeds"] == 5
    with pytest.raises(ValueError, match="another configuration"):
        ResultsStore(tmp_path, "x", long_dependency.Config(seeds=5, units=3))


def test_attractor_tables_give_the_mean_and_interval_per_k():
    runs = [
        {"model": "GatedLSTM", "init": "chrono", "length": 50, "seed": s,
         "attractors": {"0": a, "4": b}}
        for s, (a, b) in enumerate([(1.0, 0.8), (0.9, 0.6), (0.95, 0.7)])
    ] + [{"model": "LSTM", "init": "chrono", "length": 50, "seed": 0,
          "attractors": {"0": 0.1, "4": 0.1}}]  # fmt: skip
    lines = _long_dependency.attractor_lines(runs)
    # Mean 0.95, sd 0.05, t(0.975, 2) = 4.303: half-width 0.124; the
    # built-in twin is left out.
    assert lines[4] == (
        "| GatedLSTM (chrono) | 0.950 [0.826, 1.074] | 0.700 [0.452, 0.948] |"
    )
    assert not any("LSTM (chrono) | 0.100" in line for line in lines)


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
    # Each ratio is the row's time over its built-in twin's, same shape
    # (a Bidirectional row's twin is the built-in in Bidirectional).
    for row in train:
        kind = "GRU" if "GRU" in row["model"] else "LSTM"
        builtin = f"keras.layers.{kind}"
        if row["model"].startswith("Bidirectional"):
            builtin = f"Bidirectional({kind})"
        twin = next(
            r
            for r in train
            if r["model"] == builtin
            and r["task"] == row["task"]
            and r["jit_compile"] == row["jit_compile"]
        )
        ratio = row["value"] / twin["value"]
        assert row["ratio_to_builtin"] == pytest.approx(ratio)
    assert (tmp_path / "benchmark.png").stat().st_size > 10_000
    # Each gated row says which path its engine picked: on a CPU, never
    # the fused kernel.
    for row in train:
        if row["model"].startswith("Gated"):
            assert row["path"].startswith(("loop", "handwritten")), row
            assert ("gates" in row["path"]) == ("gates on" in row["model"])


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
    base, timed = data["runs"]
    for row in data["runs"]:
        assert len(row["all"]) == 1 and row["value"] == row["all"][0] > 0
    ratio = timed["value"] / base["value"]
    assert timed["overhead"] == pytest.approx(ratio - 1)
    assert base["overhead"] == 0.0


@pytest.mark.slow
def test_a_gated_lstm_beats_chance_on_an_easy_setting(tmp_path):
    """Agreement over a 3-token clause: a few epochs are enough for a
    GatedLSTM to read the subject's number far above chance (50%)."""
    out = tmp_path / "easy"
    long_dependency.main(
        [
            "--task",
            "agreement",
            "--lengths",
            "3",
            "--models",
            "GatedLSTM",
            "--epochs",
            "4",
            "--train-size",
            "1024",
            "--validation-size",
            "64",
            "--test-size",
            "256",
            "--units",
            "8",
            "--output",
            str(out),
            "--quiet",
        ]  # fmt: skip
    )
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    assert run["value"] >= 0.9, run["value"]


@pytest.mark.slow
def test_seeds_give_one_run_each_and_an_interval(tmp_path):
    out = tmp_path / "seeds"
    args = ["--task", "temporal_order", "--lengths", "12", "--models",
            "GatedGRU", "GRU", "--seeds", "3", "--data-seeds",
            "--output", str(out), *TOY]  # fmt: skip
    long_dependency.main(args)
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [(r["model"], r["seed"], r["data_seed"]) for r in runs] == [
        (model, seed, seed)
        for seed in (0, 1, 2)
        for model in ("GatedGRU", "GRU")
    ]
    values = [r["value"] for r in runs if r["model"] == "GatedGRU"]
    assert len(set(values)) > 1  # seeds differ
    twins = {r["seed"]: r["value"] for r in runs if r["model"] == "GRU"}
    assert values == [twins[s] for s in (0, 1, 2)]  # the same per seed
    mean, sd = np.mean(values), np.std(values, ddof=1)
    half = 4.303 * sd / np.sqrt(3)
    page = (out / "summary.md").read_text()
    row = next(line for line in page.splitlines()
               if line.startswith("| GatedGRU | chrono | 12 |"))  # fmt: skip
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[4:7] == [
        "3",
        f"{mean:.4g}",
        f"[{mean - half:.4g}, {mean + half:.4g}]",
    ]
    assert cells[7] == f"{sum(v >= 0.9 for v in values)}/3"
    assert "GatedGRU vs GRU (chrono, T=12): " in page
    assert "identical on all 3 seeds" in page
    assert "3 seeds per cell (seeds 0..2; a new data set per seed)" in page


@pytest.mark.slow
def test_gradient_map_at_toy_size(tmp_path):
    from experiments import gradient_map

    out = tmp_path / "map"
    gradient_map.main(
        ["--output", str(out), "--length", "20", "--epochs", "1", "--units",
         "6", "--train-size", "64", "--probe-size", "16", "--gains", "0.5",
         "1.5", "--gated-inits", "chrono", "--quiet"]
    )  # fmt: skip
    runs = {
        (r["model"], r["init"]): r
        for r in json.loads((out / "results.json").read_text())["runs"]
    }
    assert sorted(runs) == [("GatedGRU", "chrono"), ("GatedLSTM", "chrono"),
                            ("SimpleRNN", "gain:0.5"),
                            ("SimpleRNN", "gain:1.5")]  # fmt: skip
    for run in runs.values():
        ratio = np.asarray(run["ratio_init"])
        assert ratio.shape == (22,) and ratio[0] == 1.0  # T + 2 tokens
        assert np.all(np.isfinite(ratio)) and np.all(ratio > 0)
    # An orthogonal kernel times 0.5 with tanh' <= 1: each step at least
    # halves the recurrent gradient (the input projection adds a bounded
    # factor), and the predicted factor is at most 0.5.
    small = runs["SimpleRNN", "gain:0.5"]
    assert small["article_init"] <= 0.5 + 1e-9
    assert np.log(small["ratio_init"][-1]) <= 21 * np.log(0.5) + 2.0
    assert small["measured_init"] < 0.6
    assert runs["SimpleRNN", "gain:1.5"]["measured_init"] > 1.0
    for name in ("gradient_map", "factors"):
        assert (out / f"{name}.png").stat().st_size > 10_000


VARIANT_TOY = [
    "--tasks", "agreement", "adding", "--models", "LSTM", "cifg", "MGU",
    "--seeds", "2", "--agreement-length", "12", "--adding-length", "10",
    *TOY,
]  # fmt: skip


@pytest.mark.slow
def test_variants_at_toy_size(tmp_path):
    from experiments import variants

    out = tmp_path / "variants"
    variants.main([*VARIANT_TOY, "--output", str(out)])
    data = json.loads((out / "results.json").read_text())
    assert set(data) == SCHEMA
    runs = data["runs"]
    # Seed by seed, task by task, model by model.
    assert [(r["seed"], r["task"], r["model"]) for r in runs] == [
        (seed, task, model)
        for seed in (0, 1)
        for task in ("agreement", "adding")
        for model in ("LSTM", "cifg", "MGU")
    ]
    for run in runs:
        assert RUN_KEYS <= set(run)
        assert_sane(run)
        assert run["metric"] == METRICS[run["task"]]
        assert run["baseline"] == pytest.approx(CHANCE[run["task"]])
    # Parameters from the equations: 4 units, embedding 16 (agreement) or
    # 2 inputs (adding); cifg keeps 3 of the LSTM's 4 blocks, the MGU 2 of
    # the GRU's 3 (with its two bias rows).
    params = {(r["task"], r["model"]): r["params"] for r in runs}
    assert params["agreement", "LSTM"] == 4 * (16 * 4 + 4 * 4 + 4)
    assert params["agreement", "cifg"] == 3 * (16 * 4 + 4 * 4 + 4)
    assert params["adding", "MGU"] == 2 * (2 * 4 + 4 * 4 + 2 * 4)
    page = (out / "summary.md").read_text()
    assert "## Against Greff et al. 2017" in page and "**cifg**" in page
    assert "not resolved at 2 seeds" in page or "better" in page
    for name in ("variants.png", "gates.png"):
        assert (out / name).stat().st_size > 20_000
    # Resumed: nothing is trained again.
    variants.main([*VARIANT_TOY, "--output", str(out)])
    assert json.loads((out / "results.json").read_text())["runs"] == runs


def test_variant_verdicts_come_from_paired_intervals():
    from experiments import variants

    def runs(values):
        return {s: {"value": v} for s, v in enumerate(values)}

    base = runs([0.80, 0.70, 0.90])
    worse = runs([0.70, 0.61, 0.79])
    assert variants.change(worse, base, higher=True)[1] == "worse"
    assert variants.change(worse, base, higher=False)[1] == "better"
    mixed = runs([0.90, 0.60, 0.91])
    assert variants.change(mixed, base, True)[1] == "not resolved at 3 seeds"
    found = variants.greff_lines({
        "agreement": {"nfg": (None, "worse"), "cifg": (None, "worse"),
                      "nig": (None, "not resolved at 3 seeds"),
                      "noaf": (None, "better")},
    })  # fmt: skip
    text = "\n".join(found)
    assert "**nfg**" in text and "Agrees: worse here on agreement" in text
    assert "**cifg**" in text and "Differs: worse here on agreement" in text
    assert "**nig**" in text and "Not resolved" in text
    assert "**noaf**" in text and "Differs: no task worse here" in text


def test_variant_speed_at_toy_size(tmp_path):
    from experiments import variant_speed

    variant_speed.main(["--quick", "--output", str(tmp_path)])
    data = json.loads((tmp_path / "results.json").read_text())
    assert {(r["kind"], r["gates"]) for r in data["runs"]} == {
        ("LSTM", False), ("LSTM", True), ("GRU", False), ("GRU", True),
    }  # fmt: skip
    for run in data["runs"]:
        rows = {row["candidate"]: row for row in run["rows"]}
        expected = {
            "standard",
            "standard, use_cudnn=False",
            "zoneout 0.1",
            "recurrent_dropconnect 0.25",
            "layer_norm",
        } | (
            {"vanilla (peepholes)", *variant_speed.LSTM_VARIANTS}
            if run["kind"] == "LSTM"
            else {"mgu"}
        )
        assert set(rows) == expected
        standard = rows["standard"]["ms"]
        for row in rows.values():
            assert row["ms"] > 0
            assert row["to_standard"] == pytest.approx(row["ms"] / standard)
            assert row["path"].startswith(("loop", "handwritten"))
        assert rows["standard"]["to_standard"] == 1.0
    assert (tmp_path / "variant_speed.png").stat().st_size > 20_000
    page = (tmp_path / "summary.md").read_text()
    assert "- Layer normalisation, which run Keras's loop, against" in page
    # The paths the variants took, from the rows: the hand-written pass
    # on PyTorch for the variants it computes, Keras's loop elsewhere.
    if keras.backend.backend() == "torch":
        assert "`handwritten` (nig, nfg, nog, niaf, noaf, cifg, mgu)" in page
    else:
        assert "`loop` (vanilla (peepholes), nig, nfg, nog, niaf" in page
    assert "target 1.5x: LSTM layer_norm (gates off) " in page


COMPILED_MODELS = """
import numpy as np
import torch
from torch._dynamo.utils import counters
from experiments._timing import build, compiler_room
from keras_gates import GatedGRU

shape = (2, 3, 2, 2)
x, y = np.ones(shape[:3], "float32"), np.zeros((2, 1), "float32")
for room in (False, True):
    torch._dynamo.reset()
    counters.clear()
    torch._dynamo.config.recompile_limit = 1  # as if 8 models came before
    if room:
        compiler_room(2)
    for _ in range(2):
        model = build(GatedGRU(2), shape, True)
        model.train_on_batch(x, y)
        model.train_on_batch(x, y)
    eager = any("recompile limit" in r for r in counters["unimplemented"])
    print(f"room {room}: eager {eager}")
"""


@pytest.mark.slow
def test_every_compiled_model_of_a_speed_run_stays_compiled():
    """Every Keras model's compiled training step on PyTorch shares one
    code object, so past dynamo's recompile limit (8 entries) the next
    model would be timed as eager code; `compiler_room`, which the speed
    experiments call before each group of compiled models, makes room."""
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [sys.executable, "-c", COMPILED_MODELS],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Without room the second model hits the limit: the check itself works.
    assert done.stdout.strip().splitlines()[-2:] == [
        "room False: eager True",
        "room True: eager False",
    ]


def test_gpu_checks_script_keeps_to_its_budget_and_reports_each_check(
    tmp_path,
):
    import subprocess
    import tarfile

    script = "experiments/gpu_checks.sh"
    out = tmp_path / "out"
    bad = subprocess.run(
        ["bash", script, str(out), "ten"], capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "SECONDS must be a whole number of seconds, got 'ten'" in bad.stderr
    # A budget under 30 s runs nothing; an unknown check is named.
    asked = ["benchmark-jax", "cudnn", "bench-torch"]
    done = subprocess.run(
        ["bash", script, str(out), "5", *asked],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GPU_CHECKS_TOKENS": str(tmp_path / "none"),
            "GPU_CHECKS_WHEELS": str(tmp_path / "none"),
        },
    )
    assert done.returncode == 0, done.stderr
    lines = (out / "checks.txt").read_text().splitlines()
    assert lines[0].startswith("benchmark-jax: not run, ")
    assert lines[0].endswith(" s of the budget left")
    assert lines[1] == (
        "cudnn: unknown check: EXPERIMENT-BACKEND, the backend torch or jax"
    )
    assert lines[2] == (
        "bench-torch: unknown check: EXPERIMENT-BACKEND, the experiment "
        "benchmark, imdb, variants or agreement"
    )
    assert len(lines) == 3
    with tarfile.open(out / "gpu_checks.tar.gz") as archive:
        assert archive.getnames() == ["."]


def test_variant_speed_times_only_the_candidates_asked_for(tmp_path):
    from experiments import variant_speed

    variant_speed.main(
        ["--quick", "--candidates", "cifg", "--output", str(tmp_path)]
    )
    data = json.loads((tmp_path / "results.json").read_text())
    # No GRU candidate was asked for: no GRU run at all.
    assert [(r["kind"], r["gates"]) for r in data["runs"]] == [
        ("LSTM", False), ("LSTM", True),
    ]  # fmt: skip
    for run in data["runs"]:
        assert [row["candidate"] for row in run["rows"]] == [
            "standard", "standard, use_cudnn=False", "cifg",
        ]  # fmt: skip
    page = (tmp_path / "summary.md").read_text()
    assert "fgr adds" not in page
    with pytest.raises(SystemExit):
        variant_speed.main(["--quick", "--candidates", "lstm"])


@pytest.mark.slow
def test_forget_bias_at_toy_size(tmp_path):
    from experiments import forget_bias

    out = tmp_path / "forget_bias"
    args = ["--adding-length", "10", "--agreement-length", "12", "--seeds",
            "2", "--output", str(out), *TOY]  # fmt: skip
    forget_bias.main(args)
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [(r["seed"], r["task"], r["model"], r["init"]) for r in runs] == [
        (seed, task, model, init)
        for seed in (0, 1)
        for task in ("adding", "agreement")
        for model, init in forget_bias.SETTINGS
    ]
    for run in runs:
        assert_sane(run)
        assert run["baseline"] == pytest.approx(CHANCE[run["task"]])
    page = (out / "summary.md").read_text()
    assert page.count("- the LSTM with forget bias 1 against the GRU") == 2
    assert "## Against the paper" in page


def test_forget_bias_gap_verdicts():
    from experiments import forget_bias

    def runs(task, values):
        return [
            {"task": task, "model": model, "init": init, "seed": seed,
             "value": value}
            for (model, init), row in zip(forget_bias.SETTINGS, values,
                                          strict=True)
            for seed, value in enumerate(row)
        ]  # fmt: skip

    # agreement (accuracy): bias 0 clearly below the GRU, bias 1 level.
    closing = runs(
        "agreement",
        [[0.50, 0.52, 0.51], [0.97, 0.99, 0.95], [0.99, 0.99, 0.98],
         [0.98, 0.97, 0.97]],
    )  # fmt: skip
    found = forget_bias.gaps(closing, "agreement")
    assert forget_bias.gap_verdict(found).startswith("the gap closes")
    # adding (MSE, lower is better): the LSTM worse with either bias.
    staying = runs(
        "adding",
        [[0.17, 0.16, 0.17], [0.16, 0.17, 0.15], [0.01, 0.02, 0.01],
         [0.01, 0.01, 0.02]],
    )  # fmt: skip
    found = forget_bias.gaps(staying, "adding")
    assert forget_bias.gap_verdict(found).startswith("the gap stays")
    lines = "\n".join(forget_bias.gap_lines(found))
    assert "chrono against the forget bias of 1" in lines
    assert "GatedLSTM (chrono) better" in lines


def test_gradient_map_verdicts_need_the_interval_off_one():
    from experiments._intervals import interval

    assert _gradient_map.factor_verdict(interval([0.5, 0.52, 0.49])) == (
        "vanishes"
    )
    assert _gradient_map.factor_verdict(interval([1.2, 1.3, 1.25])) == "grows"
    assert _gradient_map.factor_verdict(interval([0.9, 1.1, 1.0])) == (
        "not resolved at 3 seeds"
    )
    assert _gradient_map.factor_verdict(interval([0.9])) == "vanishes (1 seed)"
    # Two seeds of one setting: the curve is their geometric mean.
    runs = [
        {"model": "SimpleRNN", "init": "gain:0.5", "seed": s, "value": 0.5,
         "ratio_init": [1.0, a], "ratio_trained": [1.0, a],
         "article_init": 0.5, "article_trained": 0.5,
         "measured_init": 0.5 + s / 100, "measured_trained": 0.5}
        for s, a in enumerate([1e-2, 1e-4])
    ]  # fmt: skip
    np.testing.assert_allclose(
        _gradient_map.mean_curve(runs, "init"), [1.0, 1e-3]
    )
    (init_row, _) = _gradient_map.rows_of(runs)
    assert init_row["setting"] == "SimpleRNN, gain 0.5"
    assert init_row["seeds"] == 2
    assert init_row["first k below 0.001"] == "> 1"
    # 0.50 and 0.51: mean 0.505, sd 0.00707, t(0.975, 1) = 12.706:
    # half-width 0.0635.
    assert init_row["measured factor"] == "0.505 [0.441, 0.569]"


@pytest.mark.slow
def test_chrono_copy_at_toy_size(tmp_path):
    from experiments import chrono_copy

    out = tmp_path / "copy"
    args = ["--output", str(out), "--length", "10", "--units", "8",
            "--batch-size", "16", "--iterations", "60", "--eval-every",
            "20", "--eval-size", "64", "--seeds", "2", "--quiet"]  # fmt: skip
    chrono_copy.main(args)
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert sorted((r["init"], r["seed"]) for r in runs) == [
        ("chrono", 0), ("chrono", 1), ("default", 0), ("default", 1)
    ]  # fmt: skip
    for run in runs:
        assert run["steps"] == [0, 20, 40, 60]
        assert run["baseline"] == pytest.approx(10 * math.log(8) / 30)
        # An untrained softmax over 10 classes: ln 10 nats per step; 60
        # RMSprop steps learn at least to predict the blanks.
        assert run["loss"][0] == pytest.approx(math.log(10), abs=0.05)
        assert run["loss"][-1] < run["loss"][0] - 0.3
        assert run["final"] == run["loss"][-1]
        assert run["seconds_per_iteration"] > 0
    page = (out / "summary.md").read_text()
    assert "Chrono minus standard, final loss paired by seed" in page
    assert (out / "chrono_copy.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="iterations must be at least 1"):
        chrono_copy.main([*args[:8], "--iterations", "0"])


def test_a_one_seed_pass_says_it_skipped_the_copy_task():
    from experiments import claims

    section = claims.copy_section([], None)
    assert section.verdict.startswith("not measured: a one-seed pass skips")
    assert "--seeds 3" in section.verdict


def test_flip_subjects_swaps_each_noun_for_its_other_number():
    from experiments import interventions
    from keras_gates.tasks import AGREEMENT_VOCABULARY

    ids = {w: k for k, w in enumerate(AGREEMENT_VOCABULARY)}
    x = np.array(
        [[ids["dog"], ids["cat"], ids["dogs"]], [ids["men"], ids["old"], 0]]
    )
    flipped = interventions.flip_subjects(x)
    assert [AGREEMENT_VOCABULARY[t] for t in flipped[:, 0]] == ["dogs", "man"]
    np.testing.assert_array_equal(flipped[:, 1:], x[:, 1:])


def test_interventions_at_toy_size(tmp_path):
    """Two seeds at toy size: one run per seed, every unit ranked once,
    every measurement a fraction, all units edited the same for carriers
    and controls, and --report rewriting the same page."""
    from experiments import interventions

    out = tmp_path / "interventions"
    args = ["--seeds", "2", "--epochs", "1", "--train-size", "200",
            "--validation-size", "60", "--test-size", "80", "--length",
            "12", "--long-lengths", "30", "--short-length", "6",
            "--controls", "2", "--units",
            "6", "--counts", "2", "6", "--output", str(out)]  # fmt: skip
    interventions.main(args)
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    for run in runs:
        assert sorted(run["ranking"]) == list(range(6))
        for part in ("carrier_edits", "control_edits"):
            assert set(run[part]) == {"2", "6"}
            for values in run[part].values():
                assert set(values) == {
                    "forget0", "patched_flips", "held_30", "short_held_30",
                }  # fmt: skip
                assert all(0.0 <= v <= 1.0 for v in values.values())
        assert run["carrier_edits"]["6"] == run["control_edits"]["6"]
        assert run["untouched"]["patched_flips"] == pytest.approx(
            1.0 - run["untouched"]["forget0"]
        )
    page = (out / "summary.md").read_text()
    assert "## What it shows" in page
    assert (out / "interventions.png").stat().st_size > 10_000
    interventions.main(["--report", "--output", str(out)])
    assert (out / "summary.md").read_text() == page


def test_intervention_cost_at_toy_size(tmp_path):
    from experiments import intervention_cost

    out = tmp_path / "cost"
    intervention_cost.main(
        ["--batch", "2", "--time", "5", "--features", "3", "--units", "2",
         "--repeats", "1", "--warmup", "0", "--output", str(out)]
    )  # fmt: skip
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [r["model"] for r in runs] == [
        "forward pass (predict_on_batch)",
        "intervene (Clamp, 2 units, 1 step)",
        "extract_gates (GateExtractor)",
    ]
    assert runs[0]["ratio"] == 1.0
    assert all(r["ms"] > 0 for r in runs)
    assert runs[1]["ratio"] == pytest.approx(runs[1]["ms"] / runs[0]["ms"])


def test_char_lm_ablation_scores_bits_after_the_context():
    from experiments import char_lm_ablation as ablation

    logits = np.zeros((1, 5, 4))
    logits[0, 3, 2] = 50.0
    targets = np.array([[0, 1, 2, 2, 3]])
    found = ablation.bits(logits, targets, context=2)
    np.testing.assert_allclose(found, [[2.0, 0.0, 2.0]], atol=1e-12)
    config = ablation.Config(window=4, context=2)
    chunks = ablation.windows(np.arange(11), config)
    np.testing.assert_array_equal(chunks[:, 0], [0, 2, 4])
    np.testing.assert_array_equal(chunks[1], [2, 3, 4, 5, 6])


@pytest.mark.slow
def test_char_lm_ablation_at_toy_size(tmp_path):
    """Two seeds at toy size: the untouched bits are the model's own
    (numpy log-softmax of `predict`), every unit ablated is the same set
    for carriers and controls, and --report rewrites the same page."""
    from experiments import _char_data as text
    from experiments import _char_model, char_lm_ablation

    out = tmp_path / "ablation"
    args = ["--steps", "20", "--steps-per-epoch", "10", "--train-chars",
            "50000", "--validation-chars", "5000", "--test-chars", "20000",
            "--units", "8", "--eval-chars", "3000", "--seeds", "2",
            "--controls", "1", "--counts", "2", "16", "--analysis-files",
            "2", "--analysis-chars", "300", "--output", str(out)]  # fmt: skip
    char_lm_ablation.main(args)
    data = json.loads((out / "results.json").read_text())
    runs = data["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    config = char_lm_ablation.Config(
        units=8, test_chars=20000, eval_chars=3000, seed=1
    )
    model = _char_model.load(
        "GatedLSTM", config, out / "models" / "GatedLSTM-1.weights.h5"
    )
    corpus = text.corpus(50000, 20000, 5000)
    chunk = char_lm_ablation.windows(
        text.encode(corpus["test"][-3000:]), config
    )
    logits = model.predict(chunk[:, :-1], verbose=0).astype("float64")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    spent = -np.take_along_axis(log_p, chunk[:, 1:, None], -1)[..., 0]
    spent = spent[:, config.context :] / np.log(2.0)
    due = np.isin(chunk[:, 1 + config.context :], text.encode("\n"))
    assert runs[1]["untouched"]["column"]["due"] == pytest.approx(
        spent[due].mean(), rel=1e-4
    )
    for run in runs:
        for feature in ("bracket depth", "column"):
            assert run["carriers"][feature]["16"] == pytest.approx(
                run["controls"][feature]["16"]
            )
            assert len(run["ranking"][feature]) == 16
    page = (out / "summary.md").read_text()
    assert "## What it shows" in page
    assert (out / "char_lm_ablation.png").stat().st_size > 10_000
    char_lm_ablation.main(["--report", "--output", str(out)])
    assert (out / "summary.md").read_text() == page


def _lrp_setup(rng, bias_scale=0.0):
    import keras

    from experiments import attribution

    net = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(7, 5),
            keras.layers.LSTM(4, name="recurrent"),
            keras.layers.Dense(1, "sigmoid"),
        ]
    )
    for layer in net.layers:
        layer.set_weights(
            [
                rng.normal(size=w.shape) * (bias_scale if w.ndim == 1 else 0.5)
                for w in layer.get_weights()
            ]  # fmt: skip
        )
    x = rng.integers(0, 7, (6, 9))
    return net, x, attribution.lrp_weights(net)


def test_lrp_lstm_reproduces_keras_and_conserves_the_logit(rng, monkeypatch):
    """The numpy LSTM gives the built-in layer's logit; with no biases and
    a vanishing epsilon every bit of the logit reaches the tokens."""
    import keras

    from experiments import _lrp, attribution

    net, x, weights = _lrp_setup(rng, bias_scale=0.3)
    logit = keras.ops.convert_to_numpy(attribution.logit_model(net)(x))[:, 0]
    np.testing.assert_allclose(_lrp.forward(x, weights)["logit"], logit,
                               atol=1e-5)  # fmt: skip
    net, x, weights = _lrp_setup(rng)
    monkeypatch.setattr(_lrp, "EPSILON", 1e-12)
    found = _lrp.relevance(x, weights)
    np.testing.assert_allclose(
        found["tokens"].sum(-1), found["logit"], rtol=1e-6
    )


def test_spearman_is_the_rank_correlation():
    from experiments import attribution

    a = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
    b = np.array([[10.0, 20.0, 30.0, 40.0], [1.0, 5.0, 2.0, 9.0]])
    np.testing.assert_allclose(attribution.spearman(a, b), [1.0, -0.8])


@pytest.mark.slow
def test_attribution_at_toy_size(tmp_path):
    """Two seeds at toy size: shares are fractions, LRP's numpy LSTM is
    the model's to float32 rounding, --report rewrites the same page."""
    from experiments import attribution

    out = tmp_path / "attribution"
    attribution.main(
        ["--seeds", "2", "--epochs", "1", "--train-size", "200",
         "--validation-size", "40", "--test-size", "60", "--sentences",
         "20", "--length", "10", "--units", "6", "--ig-steps", "4",
         "--output", str(out)]
    )  # fmt: skip
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    for run in runs:
        assert run["lrp_forward_error"] < 1e-4
        assert sorted(run["methods"]) == sorted(attribution.METHODS)
        for found in run["methods"].values():
            assert 0.0 <= found["subject_share"] <= 1.0
            assert -1.0 <= found["rank_with_lrp"] <= 1.0 + 1e-9
        assert run["methods"]["lrp"]["rank_with_lrp"] == pytest.approx(1.0)
    page = (out / "summary.md").read_text()
    assert "## What it shows" in page
    attribution.main(["--report", "--output", str(out)])
    assert (out / "summary.md").read_text() == page


@pytest.mark.slow
def test_view_command_at_toy_size(tmp_path, monkeypatch):
    """Both saved models through the command, on mocked reviews (one with a
    Unicode line separator, which the experiment cleans before Keras
    saves its vocabulary): every page opens, the page rewrites the same."""
    import tensorflow as tf

    from experiments import _data, view_command

    reviews = [
        "a fine film\u2028with good acting",
        "dull film and far too long, with no plot",
        "the best thing i saw this year",
        "i want my time back",
    ] * 3

    def fake(split, data_dir=None):
        labels = [1, 0, 1, 0] * 3
        data = tf.data.Dataset.from_tensor_slices((reviews, labels))
        return data.take(int(split.split(":")[1].rstrip("]")))

    monkeypatch.setattr(_data, "load_text", fake)
    out = tmp_path / "view"
    view_command.main(
        ["--train-reviews", "12", "--epochs", "1", "--reviews", "3",
         "--length", "8", "--analysis-files", "2", "--analysis-chars",
         "200", "--loads", "1", "--char-weights", str(tmp_path / "none"),
         "--output", str(out)]
    )  # fmt: skip
    runs = json.loads((out / "results.json").read_text())["runs"]
    pages = {run["model"]: [p["page"] for p in run["pages"]] for run in runs}
    assert pages == {
        "IMDB, TextVectorization -> GatedLSTM(64)": ["lstm.html"],
        "char_lm, two GatedLSTM(128) layers": [
            "all_layers.html", "layer_1.html", "layer_2.html",
        ],
    }  # fmt: skip
    for run in runs:
        assert run["seconds"] > 0
        assert all(0 < p["shown ms (median)"] < 30_000 for p in run["pages"])
    page = (out / "summary.md").read_text()
    view_command.main(["--report", "--output", str(out)])
    assert (out / "summary.md").read_text() == page


def test_input_gradients_match_central_differences():
    import keras

    from experiments._gradients import input_gradients
    from keras_gates import GatedLSTM

    keras.utils.set_random_seed(3)
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 3)(tokens)
    hidden = GatedLSTM(4, name="recurrent")(embedded)
    net = keras.Model(tokens, keras.layers.Dense(1, "sigmoid")(hidden))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, (2, 5))
    y = np.array([0.0, 1.0])
    # The reference: the loss of the recurrent layer and head, fed the
    # embedded inputs nudged one entry at a time, in float64 differences.
    recurrent = net.get_layer("recurrent")
    head = keras.Sequential([recurrent, net.layers[-1]])
    numpy = keras.ops.convert_to_numpy
    e = numpy(net.layers[1](x)).astype(np.float64)

    def loss(values):
        p = numpy(head(values.astype("float32"))).astype(np.float64)[:, 0]
        return -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))

    grad = np.zeros_like(e)
    for index in np.ndindex(*e.shape):
        step = np.zeros_like(e)
        step[index] = 1e-2
        grad[index] = (loss(e + step) - loss(e - step)) / 2e-2
    expected = np.linalg.norm(grad, axis=-1).mean(axis=0)
    np.testing.assert_allclose(
        input_gradients(net, x, y), expected, rtol=2e-3, atol=1e-5
    )
