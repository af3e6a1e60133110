"""Training-step time of the LSTM variants and the MGU against the standard
gated layers.

    python -m experiments.variant_speed [--repeats 10] [--quick]
    KERAS_BACKEND=torch python -m experiments.variant_speed
    python -m experiments.variant_speed --jit-compile \
        --output results/variant_speed/tensorflow-jit
    KERAS_BACKEND=torch python -m experiments.variant_speed --jit-compile \
        --candidates cifg mgu      # only these beside the standard layers

For one shape (batch 64, 200 steps, 128 inputs, 64 units by default) it
builds a small model (layer -> Dense(1), MSE, Adam) around every variant of
`GatedLSTM` (Greff et al.'s nig, nfg, nog, niaf, noaf, cifg, fgr, and
"vanilla": peepholes on), `GatedGRU(variant="mgu")`, zoneout (0.1),
recurrent DropConnect (0.25) and layer normalisation on the standard
cells, and the standard gated
layers, with gates off and with gates on (every gate in the loss),
and times a training step (`train_on_batch`), the candidates taken in
turn, the median after warm-up. The standard layers are timed twice: as
"auto" runs them (on a GPU the built-in's fused kernel) and with
`use_cudnn=False`, the path a variant takes where it has no fused kernel
(Keras's loop, or the hand-written backward pass: on PyTorch, and under
XLA with gates on; the page's path column says which each candidate
took). JAX runs with `jit_compile=True`, TensorFlow with it where
`--jit-compile` says, PyTorch without.

Writes results/variant_speed/<backend>/: results.json, summary.md and
variant_speed.png.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from experiments import _report as report
from experiments._runner import (
    open_store,
    parser,
)
from experiments._timing import (
    build,
    compiler_room,
    flush_denormals,
    time_interleaved,
)
from keras_gates import GatedGRU, GatedLSTM

LSTM_VARIANTS = ("nig", "nfg", "nog", "niaf", "noaf", "cifg", "fgr")
TARGET = 1.25  # a variant's step against the standard gated layer's
# Zoneout's and DropConnect's step against the standard layer's loop;
# layer normalisation's.
OPTION_TARGET = 1.2
LAYER_NORM_TARGET = 1.5
# The candidates that are options on the standard cells, not variants.
OPTIONS = ("zoneout", "recurrent_dropconnect", "layer_norm")
# `--candidates`: the names that pick candidates, and theirs on the page.
# The standard layers always run: every ratio is to them.
CANDIDATES = {
    **{variant: variant for variant in LSTM_VARIANTS},
    "peepholes": "vanilla (peepholes)",
    "mgu": "mgu",
    "zoneout": "zoneout 0.1",
    "recurrent_dropconnect": "recurrent_dropconnect 0.25",
    "layer_norm": "layer_norm",
}


@dataclass
class Config:
    shape: list = field(default_factory=lambda: [64, 200, 128, 64])
    repeats: int = 10
    warmup: int = 3
    seed: int = 0
    jit_compile: bool = False  # always on JAX
    # Only these (keys of CANDIDATES) beside the standard layers; empty:
    # every one.
    candidates: list = field(default_factory=list)


QUICK = Config(shape=[4, 12, 5, 6], repeats=2, warmup=2)


def layers(kind: str, units: int, gates: bool, only=()) -> dict:
    """{name: layer}: the standard gated layer ("auto" and
    `use_cudnn=False`) and every variant and option of `kind`, or only
    those `only` names (keys of CANDIDATES); no standard layers when none
    of those is of `kind`."""
    on = {"return_gates": True} if gates else {}
    cls = GatedLSTM if kind == "LSTM" else GatedGRU
    found = {
        "standard": cls(units, **on),
        "standard, use_cudnn=False": cls(units, use_cudnn=False, **on),
    }
    if kind == "LSTM":
        found["vanilla (peepholes)"] = GatedLSTM(units, peepholes=True, **on)
        for variant in LSTM_VARIANTS:
            found[variant] = GatedLSTM(units, variant=variant, **on)
    else:
        found["mgu"] = GatedGRU(units, variant="mgu", **on)
    found["zoneout 0.1"] = cls(units, zoneout=0.1, **on)
    found["recurrent_dropconnect 0.25"] = cls(
        units, recurrent_dropconnect=0.25, **on
    )
    found["layer_norm"] = cls(units, layer_norm=True, **on)
    if only:
        picked = {CANDIDATES[name] for name in only} & set(found)
        if not picked:
            return {}
        found = {
            name: layer
            for name, layer in found.items()
            if name.startswith("standard") or name in picked
        }
    return found


def measure(config: Config, store) -> None:
    batch, steps, features, units = config.shape
    rng = np.random.default_rng(config.seed)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    y = np.zeros((batch, 1), "float32")
    jit = config.jit_compile or keras.backend.backend() == "jax"
    # What the layer sees inside the step (compiled or not; JAX plans the
    # same either way).
    compiled = bool(config.jit_compile)
    for kind in ("LSTM", "GRU"):
        for gates in (False, True):
            if store.find(kind=kind, gates=gates):
                continue
            found = layers(kind, units, gates, config.candidates)
            if not found:
                continue
            paths = {
                n: layer.sequence_plan(x, jit_compile=compiled)
                for n, layer in found.items()
            }
            if config.jit_compile:
                compiler_room(len(found))
            models = {
                n: build(layer, config.shape, jit) for n, layer in found.items()
            }
            params = {
                n: int(layer.count_params()) for n, layer in found.items()
            }
            steps_of = {
                n: (lambda m=m: m.train_on_batch(x, y))
                for n, m in models.items()
            }
            times = time_interleaved(steps_of, config.repeats, config.warmup)
            rows = []
            for name, ms in times.items():
                rows.append(
                    {
                        "candidate": name,
                        "ms": ms,
                        "path": paths[name],
                        "params": params[name],
                        "to_standard": ms / times["standard"],
                        "to_loop": ms / times["standard, use_cudnn=False"],
                    }
                )
                print(
                    f"  {kind} gates={'on' if gates else 'off':3s} "
                    f"{name:27s} {ms:8.1f} ms "
                    f"({ms / times['standard']:.2f}x standard) "
                    f"[{paths[name]}]",
                    flush=True,
                )
            store.add(
                {
                    "kind": kind,
                    "gates": gates,
                    "jit_compile": jit,
                    "shape": list(config.shape),
                    "rows": rows,
                }
            )


def _compiled(store) -> bool:
    """Whether the run timed compiled training steps."""
    return any(run.get("jit_compile") for run in store.runs)


def chart(store) -> Figure:
    """One bar per candidate and gates setting: its step over the standard
    gated layer's (as "auto" runs it), with the 1.25x line."""
    labels, off, on = [], [], []
    for kind in ("LSTM", "GRU"):
        runs = [store.find(kind=kind, gates=g) for g in (False, True)]
        if None in runs:
            continue
        for row_off, row_on in zip(
            runs[0]["rows"], runs[1]["rows"], strict=True
        ):
            if row_off["candidate"] == "standard":
                continue
            labels.append(f"{kind} {row_off['candidate']}")
            off.append(row_off["to_standard"])
            on.append(row_on["to_standard"])
    figure = Figure(figsize=(8, 0.42 * len(labels) + 1.6), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(labels))[::-1]
    height = 0.38
    for shift, values, name, colour in (
        (height / 2, off, "gates off", "tab:blue"),
        (-height / 2, on, "gates on", "tab:orange"),
    ):
        ax.barh(positions + shift, values, height, label=name, color=colour)
        for position, value in zip(positions, values, strict=True):
            ax.text(
                value,
                position + shift,
                f" {value:.2f}",
                va="center",
                fontsize=8,
            )
    ax.axvline(1.0, color="black", linewidth=1)
    ax.axvline(
        TARGET, color="tab:red", linestyle="--", linewidth=1, label=f"{TARGET}x"
    )
    ax.set_yticks(positions, labels)
    ax.set_xlabel("training step / the standard gated layer's (auto path)")
    ax.set_xlim(0, max(off + on + [TARGET]) * 1.15)
    # Below the axis label, in the figure's own space: an axes legend
    # placed there covers the label when the chart has few rows.
    figure.legend(loc="outside lower center", ncol=3)
    backend = store.data.get("versions", {}).get("backend", "?")
    if _compiled(store):
        backend += ", jit_compile=True"
    ax.set_title(
        f"Variants' training step against the standard layer\n"
        f"{backend} on {store.data.get('device', '?')}"
    )
    return figure


def write_page(store, output: Path) -> str:
    lines = report.opening("Speed of the variants", store.data)
    shape = store.config["shape"]
    lines += [
        f"Training step (`train_on_batch`, median of "
        f"{store.config['repeats']} after {store.config['warmup']} warm-up "
        f"steps, taken in turn) at batch {shape[0]}, {shape[1]} steps, "
        f"{shape[2]} inputs, {shape[3]} units"
        + (", compiled (`jit_compile=True`)" if _compiled(store) else "")
        + ". `to standard`: against the standard gated layer as 'auto' "
        "runs it; `to loop`: against the standard layer with "
        "`use_cudnn=False`, the path a variant takes where it has no fused "
        "kernel (Keras's loop, or the hand-written backward pass; the "
        "`path` column says which each candidate took)."
        + (
            " PyTorch flushes denormal floats to zero in this run, as "
            "TensorFlow and XLA do by default."
            if store.data.get("flush_denormal")
            else ""
        )
        + (
            " Compiled on PyTorch, dynamo's cache is emptied before each "
            "table's models and holds them all (past its recompile limit it "
            "would run the later models' steps uncompiled)."
            if _compiled(store)
            and store.data["versions"].get("backend") == "torch"
            else ""
        ),
        "",
    ]
    slow = []
    for run in store.runs:
        rows = [
            {
                **row,
                "ms": f"{row['ms']:.1f}",
                "to standard": f"{row['to_standard']:.2f}",
                "to loop": f"{row['to_loop']:.2f}",
            }
            for row in run["rows"]
        ]
        lines += [
            f"## {run['kind']}, gates {'on' if run['gates'] else 'off'}",
            "",
            report.table(
                rows,
                ["candidate", "params", "ms", "to standard", "to loop", "path"],
            ),
        ]
        slow += [
            f"{run['kind']} {row['candidate']} (gates "
            f"{'on' if run['gates'] else 'off'}): "
            f"{row['to_standard']:.2f}x"
            for row in run["rows"]
            if row["to_standard"] > TARGET
            and "standard" not in row["candidate"]
        ]
    within = "every variant within" if not slow else "over"
    variants = [
        row
        for run in store.runs
        for row in run["rows"]
        if "standard" not in row["candidate"]
    ]
    to_loop = [row["to_loop"] for row in variants] or [float("nan")]
    paths = sorted({run["rows"][0]["path"] for run in store.runs})
    variant_paths = {}  # path -> the variants that took it
    for run in store.runs:
        for row in run["rows"]:
            if not row["candidate"].startswith(("standard", *OPTIONS)):
                taken = variant_paths.setdefault(row["path"], [])
                if row["candidate"] not in taken:
                    taken.append(row["candidate"])
    lines += [
        "## What this shows",
        "",
        f"- Against {TARGET}x the standard gated layer's step: {within}"
        + (": " + "; ".join(slow) if slow else "")
        + ".",
        f"- Against the standard layer with `use_cudnn=False`: "
        f"{min(to_loop):.2f}-{max(to_loop):.2f}x. The standard layer's "
        "paths here: "
        + ", ".join(f"`{p}`" for p in paths)
        + "; the variants': "
        + "; ".join(
            f"`{path}` ({', '.join(names)})"
            for path, names in sorted(variant_paths.items())
        )
        + ". The built-in's fused kernel (cuDNN) computes the standard "
        "cell only.",
        *_options_verdict(store),
    ]
    timed = {row["candidate"] for row in variants}
    if {"fgr", CANDIDATES["peepholes"]} & timed:
        lines.append(
            "- fgr adds a `(3 units, 3 units)` matrix product to every step "
            "(the recurrent work per sample grows from 4 to 13 units^2); "
            "peepholes make the output gate wait for the new cell state."
        )
    lines += [
        "",
        "![variant speed](variant_speed.png)",
        "",
    ]
    chart(store).savefig(output / "variant_speed.png", dpi=120)
    return report.save(output / "summary.md", lines)


def _options_verdict(store) -> list[str]:
    """Zoneout, DropConnect and layer normalisation against the standard
    layer's loop, each against its target."""
    lines = []
    for what, prefixes, target in (
        ("Zoneout and DropConnect", ("zoneout", "recurrent_dropconnect"),
         OPTION_TARGET),
        ("Layer normalisation", ("layer_norm",), LAYER_NORM_TARGET),
    ):  # fmt: skip
        found = [
            (
                f"{run['kind']} {row['candidate']} (gates "
                f"{'on' if run['gates'] else 'off'}) {row['to_loop']:.2f}x",
                row["to_loop"],
            )
            for run in store.runs
            for row in run["rows"]
            if row["candidate"].startswith(prefixes)
        ]
        if not found:
            continue
        over = sum(ratio > target for _, ratio in found)
        lines.append(
            f"- {what}, which run Keras's loop, against the standard layer "
            f"with `use_cudnn=False`, target {target}x: "
            + "; ".join(text for text, _ in found)
            + (f" ({over} over)." if over else " (all within).")
        )
    return lines


def command_parser(defaults):
    backend = keras.backend.backend()
    arguments = parser(
        defaults,
        "Training-step time of the variants",
        f"results/variant_speed/{backend}",
        choices={"candidates": sorted(CANDIDATES)},
        helps={
            "shape": "batch, time steps, input features, units",
            "repeats": "timed training steps per candidate, taken in turn "
            "(the median is reported)",
            "warmup": "untimed steps per candidate first",
            "seed": "the seed of the inputs",
            "jit_compile": "compile the training step (XLA on TensorFlow, "
            "torch.compile on PyTorch; always on with JAX)",
            "candidates": "only these beside the standard layers (none: "
            "every one)",
        },
    )
    arguments.add_argument("--quick", action="store_true", help="toy size")
    return arguments


def main(argv=None):
    args = command_parser(Config()).parse_args(argv)
    defaults = QUICK if args.quick else Config()
    args = command_parser(defaults).parse_args(argv)
    # Timings are not resumable: a run starts over.
    store, config = open_store(
        args, defaults, "variant_speed", argv, fresh=True
    )
    if not args.report:
        print(
            f"variant_speed on {store.data['device']}, backend "
            f"{keras.backend.backend()}"
        )
        if keras.backend.backend() == "torch":
            flush_denormals(store)
        measure(config, store)
    print(write_page(store, Path(args.output)))


if __name__ == "__main__":
    main()
