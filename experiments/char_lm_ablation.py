"""Ablating the cells that track brackets and columns in a character-level
language model of Python source.

    python -m experiments.char_lm_ablation             # 5 seeds
    python -m experiments.char_lm_ablation --seeds 2   # a quick pass

Karpathy, Johnson & Fei-Fei (2015) read cells that track bracket depth and
line length; `experiments.char_lm` finds such units (their cell state
correlates with the feature). Do the predictions use them? Per seed, the
two-layer GatedLSTM of `experiments.char_lm` is trained, its 256 units
ranked by |r| of their cell state with bracket depth and with the column
(excerpts of the first held-out files), and the best 1, 4 and 16
(`--counts`) have their cell state mean-ablated (`MeanAblate`: replaced at
every step by its mean over the evaluation text) on the last
`--eval-chars` characters of the held-out text; `controls` random sets of
as many units get the same edit. Measured: the bits the model spends on
the character that is due, where a closing bracket (`)]}`) or a newline
comes next, and on every other character.

Writes results/char_lm_ablation/: results.json, summary.md,
char_lm_ablation.png. Resumable: finished seeds are kept, trained models
are saved, an interrupted training resumes from its last epoch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from experiments import _char_data as text
from experiments import _report as report
from experiments._char_model import (
    ModelConfig,
    corpus_for,
    correlations,
    joined,
    load,
    padded_gates,
    train,
)
from experiments._intervals import METHOD, interval, paired
from experiments._runner import (
    backup_folder,
    command,
    run_plan,
)
from keras_gates import MeanAblate, intervene, plots
from keras_gates.files import atomic_path

MODEL = "GatedLSTM"
# What each feature's units should help predict: the characters that are
# due where the feature is about to change.
DUE = {"bracket depth": ")]}", "column": "\n"}


@dataclass
class Config(ModelConfig):
    eval_chars: int = 20_000
    window: int = 256
    context: int = 128
    counts: list = field(default_factory=lambda: [1, 4, 16])
    controls: int = 5
    seed: int = 0
    seeds: int = 5


def windows(ids, config: Config) -> np.ndarray:
    """Windows of `window + 1` characters overlapping by `context`: each
    scored step has at least `context` characters before it."""
    stride = config.window - config.context
    starts = range(0, len(ids) - config.window - 1, stride)
    return np.stack([ids[s : s + config.window + 1] for s in starts])


def bits(logits, targets, context) -> np.ndarray:
    """-log2 P(target) at every scored step (the steps after `context`)."""
    logits = np.asarray(logits, "float64")[:, context:]
    logits -= logits.max(-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, targets[:, context:, None], -1)
    return -picked[..., 0] / np.log(2.0)


def ranking(model, excerpts, feature) -> list[list]:
    """Every (layer, unit), the largest |r| of its cell state with the
    feature first, with r."""
    gates = joined(padded_gates(model, excerpts), excerpts)
    values = np.concatenate([e["features"][feature] for e in excerpts])
    found = []
    for layer, layer_gates in gates.items():
        r = correlations(layer_gates["cell"], values)
        found += [[layer, int(u), float(r[u])] for u in range(len(r))]
    return sorted(found, key=lambda item: -abs(item[2]))


def cost(model, x, targets, due, units, config) -> dict:
    """Mean bits on the due characters and on the others, with `units`
    ((layer, unit) pairs; none: the untouched model) mean-ablated."""
    edits = {}
    for layer, unit in units:
        edits.setdefault(layer, []).append(unit)
    edits = {
        layer: {"cell": MeanAblate(x, units=sorted(chosen))}
        for layer, chosen in edits.items()
    }
    spent = bits(intervene(model, x, edits), targets, config.context)
    return {"due": float(spent[due].mean()), "other": float(spent[~due].mean())}


def run_one(config: Config, output: Path, data, excerpts, keys) -> dict:
    seed = keys["seed"]
    weights = output / "models" / f"{MODEL}-{seed}.weights.h5"
    if weights.exists():
        model = load(MODEL, config, weights)
    else:
        model, _, _ = train(
            MODEL, data, config, backup_folder(output, keys), verbose=2
        )
        with atomic_path(weights, suffix=".weights.h5") as tmp:
            model.save_weights(tmp)
    chunk = windows(text.encode(data["test"][-config.eval_chars :]), config)
    x, targets = chunk[:, :-1], chunk[:, 1:]
    rng = np.random.default_rng(1000 + seed)
    found = {"ranking": {}, "untouched": {}, "carriers": {}, "controls": {}}
    for feature, characters in DUE.items():
        due = np.isin(targets[:, config.context :], text.encode(characters))
        ranked = ranking(model, excerpts, feature)
        found["ranking"][feature] = ranked[: max(config.counts)]
        found["untouched"][feature] = cost(model, x, targets, due, [], config)
        pool = [(layer, unit) for layer, unit, _ in ranked]
        for kind in ("carriers", "controls"):
            found[kind][feature] = {}
        for count in config.counts:
            carriers = [tuple(item[:2]) for item in ranked[:count]]
            found["carriers"][feature][str(count)] = cost(
                model, x, targets, due, carriers, config
            )
            draws = [
                cost(
                    model,
                    x,
                    targets,
                    due,
                    [pool[k] for k in rng.choice(len(pool), count, False)],
                    config,
                )
                for _ in range(config.controls)
            ]
            found["controls"][feature][str(count)] = {
                part: float(np.mean([d[part] for d in draws]))
                for part in ("due", "other")
            }
    return {"value": found["untouched"]["bracket depth"]["due"], **found}


def rows(runs, config: Config) -> list[dict]:
    """Per feature and count: the untouched bits on the due characters and
    the change with carriers and random units ablated, over seeds."""
    found = []
    for feature, characters in DUE.items():
        for count in config.counts:
            key = str(count)

            def change(kind, part, key=key, feature=feature):
                return [
                    r[kind][feature][key][part] - r["untouched"][feature][part]
                    for r in runs
                ]

            carried, control = (
                change("carriers", "due"),
                change("controls", "due"),
            )
            found.append(
                {
                    "due character": repr(characters)[1:-1],
                    "units ablated": count,
                    "untouched bits": interval(
                        [r["untouched"][feature]["due"] for r in runs]
                    ).text(),
                    "carriers": interval(carried).text(),
                    "random units": interval(control).text(),
                    "carriers - random": paired(
                        [a - b for a, b in zip(carried, control, strict=True)]
                    ),
                    "carriers, other characters": interval(
                        change("carriers", "other")
                    ).text(),
                    "_feature": feature,
                    "_values": (carried, control, change("carriers", "other")),
                }
            )
    return found


def meaning(found) -> list[str]:
    """One sentence per feature, chosen by the measured intervals."""
    lines = []
    for feature, characters in DUE.items():
        mine = [r for r in found if r["_feature"] == feature]
        apart, specific = [], []
        for r in mine:
            carried, control, other = (interval(v) for v in r["_values"])
            if carried.low is not None and carried.low > control.high:
                apart.append(r["units ablated"])
            more = interval(
                [a - b for a, b in zip(*r["_values"][::2], strict=True)]
            )
            if more.low is not None and more.low > 0:
                specific.append(r["units ablated"])
        due = repr(characters)[1:-1]
        if apart:
            first = next(r for r in mine if r["units ablated"] == apart[0])
            carried, control, other = (interval(v) for v in first["_values"])
            units = "unit" if apart[0] == 1 else f"{apart[0]} units"
            text_ = (
                f"ablating the best {feature} {units} costs {carried.text()} "
                f"more bits on `{due}` where one is due, random units "
                f"{control.text()} (intervals apart): the model uses "
                f"{'it' if apart[0] == 1 else 'them'}"
            )
            if apart[0] in specific:
                text_ += (
                    f"; on the other characters {other.text()} (the paired "
                    "difference's interval above 0: the cost falls where "
                    "the feature matters)"
                )
        else:
            text_ = (
                f"ablating the units whose cell state tracks {feature} "
                f"costs no more bits on `{due}` than ablating random "
                "units at any count: reading a cell that tracks the "
                "feature does not show that the prediction uses it"
            )
        lines.append(f"- {feature.capitalize()}: {text_}.")
    return lines


def figure(found, config: Config, path: Path) -> Path:
    plots.require_matplotlib("experiments.char_lm_ablation")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.6, 4.2), layout="constrained")
    axes = fig.subplots(1, len(DUE), squeeze=False)[0]
    for axis, (feature, characters) in zip(axes, DUE.items(), strict=True):
        mine = [r for r in found if r["_feature"] == feature]
        counts = [r["units ablated"] for r in mine]
        series = [
            ("carriers, due character", 0, "#d6604d", "-"),
            ("random units, due character", 1, "#4393c3", "--"),
            ("carriers, other characters", 2, "#969696", ":"),
        ]
        for name, k, colour, style in series:
            spans = [interval(r["_values"][k]) for r in mine]
            means = [s.mean for s in spans]
            axis.plot(
                counts, means, style, marker="o", color=colour, label=name
            )
            axis.fill_between(
                counts,
                [s.mean if s.low is None else s.low for s in spans],
                [s.mean if s.high is None else s.high for s in spans],
                color=colour,
                alpha=0.2,
            )
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_xscale("log", base=2)
        axis.set_xticks(counts, [str(c) for c in counts])
        axis.set_xlabel(f"units ablated (best {feature} units first)")
        axis.set_ylabel("change in bits per character")
        axis.set_title(
            f"{feature}: due character {repr(characters)[1:-1]}", fontsize=10
        )
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"Two-layer GatedLSTM ({config.units} units per layer) on Python "
        "source: cell states mean-ablated (mean and 95% interval over "
        "seeds)",
        fontsize=10,
    )
    plots.save_figure(fig, path)
    return path


def write_page(store, config: Config, output: Path) -> str:
    runs = sorted(store.runs, key=lambda r: r["seed"])
    found = rows(runs, config)
    lines = report.opening(
        "Ablating the cells that track brackets and columns", store.data
    )
    picture = figure(found, config, output / "char_lm_ablation.png")
    lines += [
        f"The two-layer GatedLSTM of `experiments.char_lm` ({config.units} "
        f"units per layer, {config.steps} batches of {config.batch_size}), "
        f"trained once per seed ({len(runs)} seeds). Its units ranked by |r| "
        "of their cell state with the feature on the excerpts of the first "
        f"{config.analysis_files} held-out files; the best `units ablated` "
        "(carriers) have their cell state replaced at every step by its "
        "mean (`MeanAblate`) on the last "
        f"{config.eval_chars} characters of the held-out text (scored with "
        f"at least {config.context} characters of context), and "
        f"{config.controls} random sets of as many units the same (their "
        "mean). Columns: bits on the due character where it comes next, "
        "untouched, and their change with the units ablated; the last "
        f"column the change on every other character. {METHOD}.",
        "",
        report.table(
            [
                {k: v for k, v in r.items() if not k.startswith("_")}
                for r in found
            ],
            [
                "due character",
                "units ablated",
                "untouched bits",
                "carriers",
                "random units",
                "carriers - random",
                "carriers, other characters",
            ],
        ),
        "Best units per seed (layer, unit, r): "
        + "; ".join(
            f"seed {r['seed']}: "
            + ", ".join(
                f"{feature} {layer} {unit} ({value:.2f})"
                for feature in DUE
                for layer, unit, value in r["ranking"][feature][:1]
            )
            for r in runs
        )
        + ".",
        "",
        "## What it shows",
        "",
        *meaning(found),
        "",
        f"![char_lm_ablation]({picture.name})",
        "",
    ]
    return report.save(output / "summary.md", lines)


def run_all(store, config, output, args):
    data, excerpts = corpus_for(store, config)
    first = config.seed
    run_plan(
        store,
        [{"seed": s} for s in range(first, first + config.seeds)],
        lambda keys: run_one(
            Config(**{**vars(config), "seed": keys["seed"]}),
            output,
            data,
            excerpts,
            keys,
        ),
        lambda run: f"{run['value']:.3f} bits on a due closing bracket",
    )


def main(argv=None):
    command(
        argv,
        Config(),
        "char_lm_ablation",
        __doc__.splitlines()[0],
        run_all,
        write_page,
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
