"""How big a gate viewer page is and how fast it opens and answers.

    python -m experiments.viewer_speed

Writes a page of 16 sequences x 500 steps x 128 units of an LSTM's six
quantities (random smooth values: the size and the work do not depend on
them), opens it several times in headless Chromium (Debian's `chromium`
and `chromedriver`, through Selenium) and measures from the start of
navigation: the document parsed, the viewer built (its script done) and
the first contentful paint; then, on the open page, how long picking
another unit, another gate and selecting a span take (the work and the
layout it forces). Writes results/viewer_speed/: results.json and
summary.md.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments import _report as report
from experiments._browser import measure
from experiments._runner import (
    open_store,
    parser,
)
from keras_gates import viewer

NAMES = ("input", "forget", "candidate", "output", "cell", "hidden")


@dataclass
class Config:
    sequences: int = 16
    steps: int = 500
    units: int = 128
    loads: int = 7
    seed: int = 0


def gates_of(config: Config) -> dict:
    """Smooth random walks squashed into each quantity's range."""
    rng = np.random.default_rng(config.seed)
    shape = (config.sequences, config.steps, config.units)
    gates = {}
    for name in NAMES:
        walk = np.cumsum(rng.normal(0, 0.3, shape), axis=1)
        squashed = np.tanh(walk / 4)
        if name in ("input", "forget", "output"):
            squashed = (squashed + 1) / 2
        gates[name] = squashed.astype("float32")
    return gates


def write_page(store, output: Path) -> str:
    run = store.runs[0]
    rows = [
        {
            "measure": name,
            "median ms": float(np.median(values)),
            "max ms": float(np.max(values)),
        }
        for name, values in run["times"].items()
    ]
    size = run["bytes"] / 1e6
    actions = [np.median(run["times"][k]) for k in ("unit", "gate", "span")]
    lines = report.opening("Gate viewer: size and speed", store.data) + [
        f"A page of {run['shape']} (sequences x steps x units) of an LSTM's "
        f"six quantities: **{size:.2f} MB**; {run['loads']} loads in "
        f"headless {run.get('browser', 'Chromium')}, times from the start "
        "of navigation (first paint: the first contentful paint, the "
        "title; built: the viewer's script done, the text coloured and "
        "the overview drawn; shown: the first frame after that; loaded: "
        "the load event over), then on the open page the time to pick "
        "another unit, another gate, and select a span of 61 tokens "
        "(with the layout each forces).",
        "",
        report.table(rows, ["measure", "median ms", "max ms"]),
        "## What this shows",
        "",
        f"- Size {size:.2f} MB against the 10 MB asked of a page this "
        f"size: {'under' if size < 10 else 'over'}.",
        f"- The viewer on screen (parsed, built and painted) after "
        f"{np.median(run['times']['shown']):.0f} ms (median; slowest of "
        f"{run['loads']}: {np.max(run['times']['shown']):.0f} ms), "
        "against 2 s.",
        f"- Picking a unit or a gate and ranking a span take "
        f"{min(actions):.0f}-{max(actions):.0f} ms (median).",
        "",
    ]
    return report.save(output / "summary.md", lines)


def main(argv=None):
    args = parser(
        Config(), "Gate viewer page size and speed", "results/viewer_speed"
    ).parse_args(argv)
    output = Path(args.output)
    store, config = open_store(args, Config(), "viewer_speed", argv, fresh=True)
    if not args.report:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "page.html"
            tokens = [list("def f(x):\n    return x\n" * 25)[: config.steps]]
            viewer.write_html(gates_of(config), tokens * config.sequences, path)
            loads, browser_name = measure(path, config.loads)
            size = path.stat().st_size
        times = {k: [load[k] for load in loads] for k in loads[0]}
        store.add(
            {
                "model": "viewer",
                "bytes": size,
                "loads": config.loads,
                "shape": (
                    f"{config.sequences} x {config.steps} x {config.units}"
                ),
                "times": times,
                "browser": browser_name,
            }
        )
    print(write_page(store, output))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
