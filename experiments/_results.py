"""Shared plumbing of the experiments: results.json, atomic writes, resume.

Schema of results.json (shared by every experiment):

    {"experiment", "config", "versions", "device",
     "runs": [{"model", "task", "length", "metric", "value", "baseline",
               "params", "seconds_per_epoch", "epochs", "seed", ...}]}

Every file is written to a temporary name in the same folder and renamed,
so an interrupted run never leaves a half-written result. A run started
again on the same folder with the same config skips the runs it finished.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def versions() -> dict:
    import keras
    import numpy

    found = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "numpy": numpy.__version__,
    }
    for name in ("tensorflow", "torch", "jax"):
        module = sys.modules.get(name)
        if module is not None:
            found[name] = getattr(module, "__version__", "?")
    return found


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device() -> str:
    """The accelerator the backend uses, or the CPU with its core count."""
    import keras

    backend = keras.backend.backend()
    accelerators = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            accelerators = [
                d.name for d in tf.config.list_physical_devices("GPU")
            ]
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                accelerators = [
                    torch.cuda.get_device_name(i)
                    for i in range(torch.cuda.device_count())
                ]
        elif backend == "jax":
            import jax

            accelerators = [
                d.device_kind for d in jax.devices() if d.platform != "cpu"
            ]
    except Exception as error:  # a broken driver must not stop a run
        accelerators = [f"unknown ({error})"]
    if accelerators:
        return ", ".join(accelerators)
    return f"CPU: {_cpu_name()}, {os.cpu_count()} cores"


class ResultsStore:
    """results.json for one experiment folder, rewritten after every run.

    Args:
        folder: output folder.
        experiment: its name.
        config: a dataclass; a folder holding results of another config is
            refused (use a new folder, or `fresh=True` to start over).
        fresh: ignore what the folder holds.
    """

    def __init__(self, folder, experiment: str, config, fresh=False):
        self.folder = Path(folder)
        self.path = self.folder / "results.json"
        self.config = asdict(config)
        self.data = {
            "experiment": experiment,
            "config": self.config,
            "versions": versions(),
            "device": device(),
            "runs": [],
        }
        if self.path.exists() and not fresh:
            previous = json.loads(self.path.read_text())
            if previous.get("config") != self.config:
                raise ValueError(
                    f"{self.path} holds results of another configuration "
                    f"({previous.get('config')}); pass a new --output folder "
                    "or --fresh to overwrite it"
                )
            self.data["runs"] = previous.get("runs", [])

    @property
    def runs(self) -> list:
        return self.data["runs"]

    def find(self, **keys):
        for run in self.runs:
            if all(run.get(k) == v for k, v in keys.items()):
                return run
        return None

    def add(self, run: dict) -> None:
        self.runs.append(run)
        self.save()

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=2) + "\n")


class Progress:
    """One line per finished run: how many, elapsed, and a rough ETA."""

    def __init__(self, total: int):
        self.total = total
        self.done = 0
        self.start = time.perf_counter()

    def step(self, message: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        print(
            f"[{self.done}/{self.total}] {message} "
            f"(elapsed {elapsed:.0f} s, about {eta:.0f} s left)",
            flush=True,
        )


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def cell(value):
        if isinstance(value, float):
            return f"{value:.4g}"
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
