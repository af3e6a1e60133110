"""Speed of the gated layers against the built-in ones (and torch.nn).

    python -m experiments.benchmark [--quick] [--repeats 20] [--memory-only]
    KERAS_BACKEND=torch python -m experiments.benchmark

For each shape of the grid it builds, with the same weights, a model around
keras.layers.LSTM/GRU, GatedLSTM/GatedGRU with gates off, and the same with
gates on (`return_gates=True`, every gate in the loss), times a
training step (`train_on_batch`) and a forward pass (`predict_on_batch`),
with and without `jit_compile`, interleaving the candidates so that machine
drift hits them alike, and reports the median after warm-up. It also times
`extract_gates` on a 64-sequence probe against one plain forward pass of
the same probe, `torch.nn.LSTM`/`GRU` when torch is installed, and the
memory of recording the gates of a 64 x 2000 probe.

Writes results/benchmark/ (or --output): results.json, summary.md and
benchmark.png.
"""

from __future__ import annotations

import importlib.util
import re
import resource
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from experiments import _report as report
from experiments._runner import (
    ResultsStore,
    command_line,
    config_from,
    parser,
)
from experiments._timing import build, flush_denormals, time_interleaved
from keras_gates import GatedGRU, GatedLSTM, GateExtractor, plots

SHAPES = [  # batch, time, input features, units
    (64, 200, 128, 64),
    (32, 500, 32, 128),
]
# extract_gates against a forward pass at a larger probe as well.
EXTRACT_SHAPES = [(64, 300, 48, 96)]
QUICK_SHAPES = [(8, 20, 8, 8)]
FLOPS_PER_STEP = {"LSTM": 24, "GRU": 18}  # x H (D + H), training


@dataclass
class Config:
    shapes: list = field(default_factory=lambda: [list(s) for s in SHAPES])
    extract_shapes: list = field(
        default_factory=lambda: [list(s) for s in EXTRACT_SHAPES]
    )
    repeats: int = 20
    warmup: int = 3
    probe: int = 64
    memory_time: int = 2000
    seed: int = 0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def candidates(kind: str, shape, jit: bool, bidirectional=True) -> dict:
    units = shape[3]
    builtin_class = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU}[kind]
    gated_class = {"LSTM": GatedLSTM, "GRU": GatedGRU}[kind]
    layers = {
        f"keras.layers.{kind}": builtin_class(units),
        f"Gated{kind}, gates off": gated_class(units),
        f"Gated{kind}, gates on": gated_class(units, return_gates=True),
        f"Gated{kind}, gates on, recover_gates": gated_class(
            units, return_gates=True, recover_gates=True
        ),
    }
    paths = {n: path_of(layer, shape, jit) for n, layer in layers.items()}
    models = {name: build(layer, shape, jit) for name, layer in layers.items()}
    weights = models[f"keras.layers.{kind}"].get_weights()
    for model in models.values():
        model.set_weights(weights)
    if bidirectional:
        for name, layer in (
            (f"Bidirectional({kind})", builtin_class(units)),
            (f"Bidirectional(Gated{kind}), gates off", gated_class(units)),
        ):
            paths[name] = path_of(layer, shape, jit)
            models[name] = build(keras.layers.Bidirectional(layer), shape, jit)
        weights = models[f"Bidirectional({kind})"].get_weights()
        models[f"Bidirectional(Gated{kind}), gates off"].set_weights(weights)
    return models, paths


def path_of(layer, shape, jit=False) -> str:
    """The path the layer's engine picks for this shape, compiled or not
    (see `GatedLSTM.sequence_plan`); the built-in's own rule for the
    built-in."""
    if hasattr(layer, "sequence_plan"):
        return layer.sequence_plan(
            tuple(shape[:2]) + (shape[2],), jit_compile=jit
        )
    return f"built-in (use_cudnn={layer.use_cudnn!r})"


def torch_device() -> str:
    """The device Keras's PyTorch backend puts tensors on, else the GPU
    when there is one: the torch.nn baseline runs where Keras runs."""
    import torch

    if keras.backend.backend() == "torch":
        return str(keras.ops.zeros(1).device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def keras_devices() -> list[str]:
    """The devices Keras computes on ("cpu:0", "gpu:0", ...)."""
    if keras.backend.backend() == "torch":
        return [torch_device().replace("cuda", "gpu")]
    return keras.distribution.list_devices()


def kernel_evidence(model, x) -> str:
    """Names of the fused-RNN (cuDNN) operations that a forward pass ran,
    from the backend's profiler or compiled program; "" when none."""
    backend = keras.backend.backend()
    if not any(not str(d).startswith("cpu") for d in keras_devices()):
        return "no accelerator"
    try:
        if backend == "torch":
            import torch

            with torch.profiler.profile() as profile:
                model.predict_on_batch(x)
            names = {event.key for event in profile.key_averages()}
        elif backend == "jax":
            import jax

            lowered = jax.jit(lambda v: model(v)).lower(x).as_text()
            names = {
                word
                for word in lowered.replace('"', " ").split()
                if "cudnn" in word.lower()
            }
        else:
            return "not measured on this backend"
    except Exception as error:  # evidence is a bonus, never a failure
        return f"unknown ({type(error).__name__})"
    return short_ops(n for n in names if "cudnn" in n.lower() or "_rnn" in n)


def short_ops(names) -> str:
    """Operation names without signatures or template arguments:
    "void RNN_blockPersist_fp_LSTM<float, ...>(...)" -> the bare name,
    "@cudnn_rnn_ffi(%arg0," -> "cudnn_rnn_ffi"."""
    short = set()
    for name in names:
        name = name.split("(")[0].split("<")[0].strip()
        short.add(name.removeprefix("void ").lstrip("@"))
    return ", ".join(sorted(short)[:3])


def torch_candidates(kind: str, shape):
    """A torch.nn.LSTM/GRU + Linear training step and forward pass."""
    import torch

    batch, time_steps, features, units = shape
    device = torch_device()
    module_class = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    rnn = module_class(features, units, batch_first=True).to(device)
    head = torch.nn.Linear(units, 1).to(device)
    parameters = list(rnn.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(parameters, 1e-3)
    x = torch.randn(batch, time_steps, features, device=device)
    y = torch.zeros(batch, 1, device=device)

    def wait():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def train():
        optimizer.zero_grad()
        out, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(head(out[:, -1]), y)
        loss.backward()
        optimizer.step()
        wait()

    def forward():
        with torch.no_grad():
            out, _ = rnn(x)
            head(out[:, -1])
        wait()

    return train, forward


def backend_skips(jit: bool) -> bool:
    """PyTorch: jit_compile means torch.compile, minutes of compiling per
    model; eager JAX is a debugging mode, not a way to train."""
    backend = keras.backend.backend()
    return (jit and backend == "torch") or (not jit and backend == "jax")


def step_functions(kind, shape, jit, x, y):
    """{name: train step}, {name: forward pass}, paths and kernel
    evidence for every candidate at one shape and jit setting."""
    models, paths = candidates(kind, shape, jit)
    evidence = {name: kernel_evidence(m, x) for name, m in models.items()}
    train = {n: (lambda m=m: m.train_on_batch(x, y)) for n, m in models.items()}
    forward = {
        n: (lambda m=m: m.predict_on_batch(x)) for n, m in models.items()
    }
    if not jit and importlib.util.find_spec("torch") is not None:
        torch_train, torch_forward = torch_candidates(kind, shape)
        train[f"torch.nn.{kind}"] = torch_train
        forward[f"torch.nn.{kind}"] = torch_forward
        paths[f"torch.nn.{kind}"] = f"torch.nn on {torch_device()}"
    return train, forward, paths, evidence


def timing_rows(kind, shape, mode, jit, times, paths, evidence, seed):
    """One row per candidate: time, ratio to its built-in, GFLOP/s."""
    batch, time_steps, features, units = shape
    reference = times[f"keras.layers.{kind}"]
    bidirectional = times.get(f"Bidirectional({kind})")
    flops = FLOPS_PER_STEP[kind] * units * (features + units)
    if mode == "forward":
        flops /= 3  # forward is about a third of a training step
    rows = []
    for name, ms in times.items():
        twin = bidirectional if name.startswith("Bidirectional") else reference
        rows.append(
            {
                "model": name,
                "task": f"{mode} b{batch} t{time_steps} d{features} h{units}",
                "mode": mode,
                "shape": list(shape),
                "jit_compile": jit,
                "metric": "ms per step",
                "value": ms,
                "ratio_to_builtin": ms / twin,
                "path": paths.get(name, ""),
                "kernel_ops": evidence.get(name, ""),
                "gflops": flops * batch * time_steps / ms / 1e6,
                "seed": seed,
            }
        )
        print(
            f"  {mode:7s} jit={jit!s:5s} {name:38s} {ms:8.1f} ms "
            f"({ms / twin:.2f}x built-in) [{paths.get(name, '')}]",
            flush=True,
        )
    return rows


def measure_shape(kind, shape, config, rng) -> list[dict]:
    batch, time_steps, features, _ = shape
    x = rng.normal(size=(batch, time_steps, features)).astype("float32")
    y = np.zeros((batch, 1), "float32")
    rows = []
    for jit in (False, True):
        if backend_skips(jit):
            continue
        try:
            train, forward, paths, evidence = step_functions(
                kind, shape, jit, x, y
            )
        except Exception as error:  # e.g. a backend without XLA
            print(f"  jit_compile={jit}: cannot build ({error})")
            continue
        for mode, functions in (("train", train), ("forward", forward)):
            try:
                times = time_interleaved(
                    functions, config.repeats, config.warmup
                )
            except Exception as error:
                print(f"  {mode} jit_compile={jit}: failed ({error})")
                continue
            rows += timing_rows(
                kind, shape, mode, jit, times, paths, evidence, config.seed
            )
    return rows


def measure_extraction(kind, shape, config, rng) -> list[dict]:
    """extract_gates on a probe against one plain forward pass of it."""
    _, time_steps, features, units = shape
    probe = rng.normal(size=(config.probe, time_steps, features)).astype(
        "float32"
    )
    # The probe model is not compiled, so it runs with Keras's "auto" jit:
    # on JAX (only) that is jit, and the forward pass it is compared with
    # should be too.
    jit = keras.backend.backend() == "jax"
    models, _ = candidates(kind, shape, jit, bidirectional=False)
    model = models[f"keras.layers.{kind}"]
    extractor = GateExtractor(model)
    functions = {
        "forward": lambda: model.predict_on_batch(probe),
        "extract_gates": lambda: extractor(probe, batch_size=config.probe),
    }
    times = time_interleaved(functions, max(5, config.repeats // 2), 2)
    return [
        {
            "model": f"extract_gates ({kind})",
            "task": f"probe {config.probe} x {time_steps}, d{features} "
            f"h{units}",
            "mode": "extract",
            "shape": list(shape),
            "metric": "ms per probe",
            "value": times["extract_gates"],
            "ratio_to_forward": times["extract_gates"] / times["forward"],
            "forward_ms": times["forward"],
            "seed": config.seed,
        }
    ]


GROWTH_SHAPE = (16, 24, 48)  # batch, input features, units
GROWTH_TIMES = (100, 400)


def _growth_layers(kind):
    builtin = {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU}[kind]
    gated = {"LSTM": GatedLSTM, "GRU": GatedGRU}[kind]
    return {
        f"keras.layers.{kind}": lambda units: builtin(units),
        f"keras.layers.{kind}, return_sequences": lambda units: builtin(
            units, return_sequences=True
        ),
        f"Gated{kind}, gates off": lambda units: gated(units),
        f"Gated{kind}, gates on": lambda units: gated(units, return_gates=True),
        f"Gated{kind}, gates on, recover_gates": lambda units: gated(
            units, return_gates=True, recover_gates=True
        ),
    }


GROWTH_LAYERS = {**_growth_layers("LSTM"), **_growth_layers("GRU")}


def growth_model(name, shape):
    layer = GROWTH_LAYERS[name](shape[3])
    if not name.endswith("return_sequences"):
        return build(layer, shape, True)
    inputs = keras.Input(shape[1:3])
    pooled = keras.ops.mean(layer(inputs), axis=1)
    model = keras.Model(inputs, keras.layers.Dense(1)(pooled))
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    return model


def builtin_of(name: str) -> str:
    """The built-in row a growth row is compared with: same kind."""
    return "keras.layers.GRU" if "GRU" in name else "keras.layers.LSTM"


def measure_growth(config, rng) -> list[dict]:
    """How a jit-compiled training step grows with the length: LSTM and
    GRU, every gate in the loss, T = 100 and 400 (XLA on TensorFlow)."""
    batch, features, units = GROWTH_SHAPE
    rows = []
    for time_steps in GROWTH_TIMES:
        shape = (batch, time_steps, features, units)
        x = rng.normal(size=shape[:3]).astype("float32")
        y = np.zeros((batch, 1), "float32")
        models = {name: growth_model(name, shape) for name in GROWTH_LAYERS}
        times = time_interleaved(
            {
                n: (lambda m=m, x=x, y=y: m.train_on_batch(x, y))
                for n, m in models.items()
            },
            config.repeats,
            config.warmup,
        )
        for name, ms in times.items():
            rows.append(
                {
                    "model": name,
                    "task": (
                        f"growth b{batch} t{time_steps} d{features} h{units}"
                    ),
                    "mode": "growth",
                    "shape": list(shape),
                    "jit_compile": True,
                    "metric": "ms per step",
                    "value": ms,
                    "ratio_to_builtin": ms / times[builtin_of(name)],
                    "path": path_of(
                        GROWTH_LAYERS[name](units), shape[:3], True
                    ),
                    "seed": config.seed,
                }
            )
            print(f"  growth T={time_steps} {name:38s} {ms:8.1f} ms")
    first = {
        r["model"]: r["value"] for r in rows if r["shape"][1] == GROWTH_TIMES[0]
    }
    for row in rows:
        if row["shape"][1] == GROWTH_TIMES[1]:
            row["growth_over_first"] = row["value"] / first[row["model"]]
    return rows


def measure_memory(config, rng) -> dict:
    """Peak RSS growth while recording gates of a 64 x T probe."""
    features, units = 32, 64
    probe = rng.normal(
        size=(config.probe, config.memory_time, features)
    ).astype("float32")
    model = keras.Sequential(
        [keras.Input((config.memory_time, features)), GatedLSTM(units)]
    )
    extractor = GateExtractor(model)
    # Warm up on two sequences (runtime start-up, tracing), so that the
    # growth measured is what recording the probe's gates costs.
    extractor(probe[:2], batch_size=config.probe)
    before = peak_rss_mib()
    gates = extractor(probe, batch_size=config.probe)
    after = peak_rss_mib()
    held = sum(a.nbytes for g in gates.values() for a in g.values()) / 2**20
    return {
        "model": "GateExtractor (GatedLSTM)",
        "task": f"memory, probe {config.probe} x {config.memory_time}, "
        f"d{features} h{units}",
        "mode": "memory",
        "metric": "peak RSS growth (MiB)",
        "value": after - before,
        "gate_arrays_mib": held,
        "seed": config.seed,
    }


def _rank(name: str) -> int:
    if name.startswith("Bidirectional"):
        return 5 if "Gated" in name else 4
    if name.startswith("keras.layers"):
        return 0
    if name.endswith("gates off"):
        return 1
    if name.endswith("gates on"):
        return 2
    if name.endswith("recover_gates"):
        return 3
    return 6


def chart(rows, backend: str, device: str = "") -> Figure:
    """Training-step time relative to the built-in layer, log scale."""
    train = [r for r in rows if r.get("mode") == "train"]
    kinds = [k for k in ("LSTM", "GRU") if any(k in r["model"] for r in train)]
    figure = Figure(figsize=(12, 5.5), layout="constrained")
    axes = figure.subplots(1, len(kinds), sharex=True, squeeze=False)[0]
    for axis, kind in zip(axes, kinds, strict=True):
        mine = [r for r in train if kind in r["model"]]
        groups = sorted({(r["task"], r["jit_compile"]) for r in mine})
        names = sorted({r["model"] for r in mine}, key=_rank)
        height = 0.8 / len(names)
        for i, name in enumerate(names):
            ratios, labels = [], []
            for task, jit in groups:
                match = [
                    r
                    for r in mine
                    if r["model"] == name
                    and r["task"] == task
                    and r["jit_compile"] == jit
                ]
                ratios.append(match[0]["ratio_to_builtin"] if match else np.nan)
                labels.append(f"{match[0]['value']:.0f} ms" if match else "")
            positions = np.arange(len(groups)) + i * height
            bars = axis.barh(
                positions, ratios, height, label=name, color=f"C{_rank(name)}"
            )
            axis.bar_label(bars, labels, fontsize=7, padding=2)
        axis.axvline(1.0, color="black", linewidth=1)
        axis.set_xscale("log")
        # Plain ratios (0.5, 1, 2, 5, ...), readable over narrow ranges too.
        axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_yticks(
            np.arange(len(groups)) + 0.4 - height / 2,
            [f"{t.removeprefix('train ')}\njit_compile={j}" for t, j in groups],
        )
        axis.invert_yaxis()
        axis.set_xlabel(
            "training step time / built-in layer's (log; < 1 is faster)\n"
            "Bidirectional rows: / Bidirectional(built-in)'s"
        )
        axis.set_title(f"{kind}")
        axis.legend(
            fontsize=8,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=2,
        )
        axis.grid(axis="x", alpha=0.3, which="both")
    # At least 0.5x to 2x, so that a few percent never fill the plot.
    ratios = [r["ratio_to_builtin"] for r in train] or [1.0]
    axes[0].set_xlim(min(0.5, min(ratios) / 1.3), max(2.0, max(ratios) * 1.4))
    where = f"Keras backend {backend}" + (f" on {device}" if device else "")
    figure.suptitle(
        f"Training step, {where}: time relative to keras.layers.LSTM/GRU "
        "(bar labels: ms per step)"
    )
    return figure


def short_ops_text(text: str) -> str:
    """`short_ops` on a stored kernel_ops string (whose names may hold
    commas inside their signatures); other notes pass unchanged."""
    if "(" not in text and "<" not in text:
        return text
    previous = None
    while previous != text:  # drop balanced <...> and (...), innermost first
        previous = text
        text = re.sub(r"<[^<>]*>|\([^()]*\)", "", text)
    return short_ops(n for n in text.split(", ") if n.strip())


def what_it_shows(runs) -> list[str]:
    """Ranges of the ratios to the built-in, per candidate and jit
    setting, and of extraction against a forward pass."""
    groups: dict = {}
    for r in runs:
        if r["mode"] == "train" and not r["model"].startswith("keras.layers"):
            kind = "GRU" if "GRU" in r["model"] else "LSTM"
            name = r["model"].replace(kind, "X")
            if name != "Bidirectional(X)":
                groups.setdefault((name, r["jit_compile"]), []).append(
                    r["ratio_to_builtin"]
                )
    lines = [
        f"- Training step, {name} (X = LSTM, GRU), jit_compile={jit}: "
        f"{min(v):.2f}-{max(v):.2f}x the built-in."
        for (name, jit), v in sorted(groups.items())
    ]
    extract = [r["ratio_to_forward"] for r in runs if r["mode"] == "extract"]
    if extract:
        lines.append(
            f"- extract_gates: {min(extract):.2f}-{max(extract):.2f}x one "
            "forward pass of the same probe."
        )
    return lines


def write_summary(folder: Path, data: dict) -> str:
    """summary.md from a run's results.json data: the command, machine and
    date, then the tables and what they show. Returns the text."""
    runs = data["runs"]
    config = data["config"]
    timing = [
        {**r, "kernel_ops": short_ops_text(r.get("kernel_ops", ""))}
        for r in runs
        if r["mode"] in ("train", "forward")
    ]
    denormal = data.get("flush_denormal") and (
        data["versions"]["backend"] == "torch"
    )
    lines = report.opening(
        f"Benchmark, backend {data['versions']['backend']}", data
    )
    lines += [
        f"{config['repeats']} interleaved repeats after {config['warmup']} "
        "warm-up, medians. `ratio_to_builtin`: over the built-in layer of "
        "the same shape and jit_compile (Bidirectional rows over "
        "Bidirectional(built-in)). `path`: the sequence path the gated "
        "layer's engine picked; `kernel_ops`: the fused operations seen."
        + (
            " PyTorch flushes denormal floats to zero in this run, as "
            "TensorFlow and XLA do by default."
            if denormal
            else ""
        ),
        "",
        report.table(timing, TIMING_COLUMNS),
        report.table(
            [r for r in runs if r["mode"] == "extract"],
            ["task", "model", "value", "forward_ms", "ratio_to_forward"],
        ),
        report.table(
            [r for r in runs if r["mode"] == "memory"],
            ["task", "value", "gate_arrays_mib"],
        ),
        "## What this shows",
        "",
        *what_it_shows(runs),
        "",
        "![benchmark](benchmark.png)",
    ]
    return report.save(folder / "summary.md", lines)


TIMING_COLUMNS = [
    "task",
    "jit_compile",
    "model",
    "value",
    "ratio_to_builtin",
    "gflops",
    "path",
    "kernel_ops",
]


def write_growth(folder: Path, store, config) -> None:
    lines = report.opening(
        "Jit-compiled training step against the length, backend "
        f"{store.data['versions']['backend']}",
        store.data,
    )
    lines += [
        f"{config.repeats} interleaved repeats after {config.warmup} "
        "warm-up, medians. `ratio_to_builtin`: over the built-in layer "
        "of the same kind and length; `growth_over_first`: the step at "
        f"T = {GROWTH_TIMES[1]} over the step at T = {GROWTH_TIMES[0]}; "
        "`path`: the sequence path the gated layer's engine picks under "
        "XLA.",
        "",
        report.table(
            store.runs,
            [
                "task",
                "model",
                "value",
                "ratio_to_builtin",
                "growth_over_first",
                "path",
            ],
        ),
    ]
    report.save(folder / "growth.md", lines)


def command_parser():
    result = parser(
        Config(),
        __doc__.split("\n")[0],
        None,
        helps={
            "repeats": "timed steps per candidate, taken in turn (the "
            "median is reported)",
            "warmup": "untimed steps per candidate first",
            "probe": "sequences in the extract_gates probe",
            "memory_time": "time steps of the probe whose gates' memory "
            "is measured",
            "seed": "the seed of the inputs",
        },
    )
    result.add_argument("--quick", action="store_true", help="toy sizes")
    result.add_argument(
        "--growth-only",
        action="store_true",
        help="only the jit-compiled step at T = 100 and 400 (XLA growth)",
    )
    result.add_argument(
        "--memory-only",
        action="store_true",
        help="only the memory of recording a 64 x 2000 probe's gates",
    )
    return result


def redraw(folder: Path) -> None:
    """The figure and summary.md again, from results.json (`--report`)."""
    store = ResultsStore.load(folder)
    data = store.data
    if all(run.get("mode") == "growth" for run in data["runs"]):
        write_growth(folder, store, Config(**store.config))
        return
    backend = data["versions"]["backend"]
    plots.save_figure(
        chart(data["runs"], backend, data["device"]), folder / "benchmark.png"
    )
    write_summary(folder, data)


def run_grid(store, config) -> None:
    """Training and forward steps at every shape, then extraction."""
    rng = np.random.default_rng(config.seed)
    for shape in config.shapes:
        for kind in ("LSTM", "GRU"):
            print(
                f"{kind} batch {shape[0]}, time {shape[1]}, input "
                f"{shape[2]}, units {shape[3]}:",
                flush=True,
            )
            for row in measure_shape(kind, shape, config, rng):
                store.add(row)
    for shape in config.shapes + config.extract_shapes:
        for kind in ("LSTM", "GRU"):
            for row in measure_extraction(kind, shape, config, rng):
                store.add(row)
                print(
                    f"{kind} {shape}: extract_gates {row['value']:.1f} ms = "
                    f"{row['ratio_to_forward']:.2f}x one forward pass"
                )


def main(argv=None):
    args = command_parser().parse_args(argv)
    output = Path(args.output or f"results/benchmark/{keras.backend.backend()}")
    if args.report:
        redraw(output)
        return
    config = QUICK if args.quick else config_from(args, Config())
    # Timings are not resumable: a run starts over.
    store = ResultsStore(
        output,
        "benchmark",
        config,
        fresh=True,
        command=command_line("benchmark", argv),
    )
    flush_denormals(store)
    print(
        f"benchmark on {store.data['device']}, backend "
        f"{keras.backend.backend()}"
    )
    rng = np.random.default_rng(config.seed)
    if args.growth_only:
        for row in measure_growth(config, rng):
            store.add(row)
        write_growth(output, store, config)
        return
    # Memory first: peak RSS only grows, so measured after the timings it
    # would hide under their peak.
    memory = measure_memory(config, rng)
    store.add(memory)
    print(
        f"memory: {memory['value']:.0f} MiB peak growth for "
        f"{memory['gate_arrays_mib']:.0f} MiB of gate arrays"
    )
    if args.memory_only:
        return
    run_grid(store, config)
    store.data["peak_rss_mib"] = peak_rss_mib()
    store.save()
    redraw(output)
    print((output / "summary.md").read_text())


QUICK = Config(
    shapes=[list(s) for s in QUICK_SHAPES],
    extract_shapes=[],
    repeats=2,
    warmup=1,
    probe=4,
    memory_time=50,
)


if __name__ == "__main__":
    main()
