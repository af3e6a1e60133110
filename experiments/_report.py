"""The words every experiment's page is written in.

A page is a list of markdown lines: `opening` (title, command, machine,
date, versions), then `section`s of blocks (a paragraph, a `table`, a
`figure`, bullet lines), written by `save`. Numbers over seeds are shown by
`mean` (the mean and its 95% t-interval) and judged by `against` (the
interval of per-seed differences and the verdict it allows); `verdicts`
groups several such judgements into one sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from experiments._intervals import Interval, interval, paired_verdict
from keras_gates.files import atomic_write_text

COMPARABLE = (
    "Times and ratios are comparable only within one run: absolute times "
    "drift between runs on shared machines."
)


def opening(title: str, data: dict) -> list[str]:
    """The first lines of every page, from a results.json's data: title,
    command, machine, date, versions, and that times compare only within
    a run."""
    found = data.get("versions", {})
    software = ", ".join(f"{k} {v}" for k, v in found.items() if k != "backend")
    command = (
        data.get("command") or f"python -m experiments.{data['experiment']}"
    )
    return [
        f"# {title}",
        "",
        f"`{command}`",
        "",
        f"Measured on {data['device']}, {data.get('date', 'date not recorded')}"
        f"; Keras backend {found.get('backend', '?')}; {software}. "
        + COMPARABLE,
        "",
    ]


def section(heading: str, *blocks) -> list[str]:
    """`## heading`, then each block followed by a blank line: a string (a
    paragraph, a table, a figure) or a list of lines (bullets), which an
    empty list leaves out."""
    lines = [f"## {heading}", ""]
    for block in blocks:
        if isinstance(block, str):
            lines += [block.rstrip("\n"), ""]
        elif block:
            lines += [*block, ""]
    return lines


def table(rows: list[dict], columns: Sequence[str] | None = None) -> str:
    """A markdown table of `rows`; `columns` default to the rows' keys in
    the order they first appear. Floats show 4 significant digits, None
    an empty cell."""
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value):
        if isinstance(value, float):
            return f"{value:.4g}"
        if isinstance(value, list) and all(isinstance(v, float) for v in value):
            return "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
        return "" if value is None else str(value)

    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        lines.append(
            "| " + " | ".join(cell(row.get(c)) for c in columns) + " |"
        )
    return "\n".join(lines) + "\n"


def figure(alt: str, name: str) -> str:
    return f"![{alt}]({name})"


def mean(values: Iterable[float], digits: int = 3) -> str:
    """The mean over seeds and its 95% interval, as text."""
    return interval(list(values)).text(digits)


def against(
    runs: Sequence[dict],
    baseline: Sequence[dict],
    value: Callable[[dict], float],
    higher: bool = True,
) -> tuple[Interval, str]:
    """The per-seed differences `value(run) - value(baseline run)` over the
    seeds both have, and the verdict for `runs` (see `paired_verdict`)."""
    theirs = {r["seed"]: value(r) for r in baseline}
    differences = [
        value(r) - theirs[r["seed"]] for r in runs if r["seed"] in theirs
    ]
    return paired_verdict(differences, higher)


def verdicts(found: dict[str, tuple[Interval, str]], unit: str) -> str:
    """`{name: (difference, verdict)}` as one sentence: better, worse and
    not resolved, each with its names and mean differences."""
    groups: dict = {"better": [], "worse": [], "not resolved": []}
    for name, (gap, verdict) in found.items():
        key = verdict if verdict in ("better", "worse") else "not resolved"
        groups[key].append(f"`{name}` ({gap.mean:+.3f} {unit})")
    return (
        "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in groups.items())
        + "."
    )


def save(path, lines: list[str]) -> str:
    """Joins a page's lines, writes it atomically, returns its text."""
    text = "\n".join(lines) + "\n"
    atomic_write_text(path, text)
    return text
