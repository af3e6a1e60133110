"""What every experiment shares: flags from its config, a resumable plan,
results.json, and the opening of its pages.

An experiment is a config dataclass, a plan (one dict of keys per run), a
function that performs one run, and report functions that turn the
recorded runs into tables, verdicts, figures and prose. This module does
the rest:

- `parser(defaults, ...)`: one command-line flag per config field
  (`--train-size` for `train_size`, lists take several values), plus
  `--output`, `--fresh`, `--quiet` and `--report`; `config_from(args,
  defaults)` turns the parsed flags back into the config.
- `ResultsStore`: `results.json` in the output folder, rewritten
  atomically after every run. Started again on the same folder with the
  same config, the experiment skips the runs it finished; the run that was
  interrupted resumes from its last epoch where it trains with
  `keras.callbacks.BackupAndRestore` (in a folder `backup_folder` names).
- `run_plan(store, plan, run_one)`: plan -> skip finished -> run ->
  record -> progress; `run_in_workers` spreads the plan over worker
  processes of the same command, one thread each, which take runs as they
  come free (`claim`) and record them in stores of their own, gathered
  into the main store as they end (`gather_workers`).
- `page_opening(title, data)`: the command, machine, date and versions
  every page starts with.

Schema of results.json (shared by every experiment):

    {"experiment", "config", "versions", "device", "command", "date",
     "runs": [{"model", "task", "length", "metric", "value", "baseline",
               "params", "seconds_per_epoch", "epochs", "seed", ...}]}
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from keras_gates.files import atomic_write_text

__all__ = [
    "Progress",
    "ResultsStore",
    "atomic_write_text",
    "backup_folder",
    "command",
    "command_line",
    "config_from",
    "device",
    "open_store",
    "parser",
    "run_in_workers",
    "run_plan",
    "versions",
]

# -- flags ---------------------------------------------------------------


# What the fields that many experiments share mean, where an experiment
# does not say it more exactly (`parser`'s helps).
COMMON_HELPS = {
    "seed": "the random seed (the first one, where --seeds asks for more)",
    "seeds": "how many seeds, counting up from --seed",
    "units": "recurrent units",
    "epochs": "training epochs (at most)",
    "train_size": "training sequences",
    "validation_size": "validation sequences",
    "test_size": "test sequences",
    "batch_size": "sequences per training step",
    "learning_rate": "the optimiser's learning rate",
    "repeats": "timed repeats per candidate (the median is reported)",
    "warmup": "untimed repeats per candidate first",
}


def shown_default(value) -> str:
    """A flag's default as the command line would spell it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return " ".join(str(v) for v in value) if value else "none"
    return str(value)


def parser(
    defaults,
    description: str,
    output: str,
    exclude=(),
    choices=None,
    helps=None,
) -> argparse.ArgumentParser:
    """One flag per field of the dataclass instance `defaults` (its values
    are the flags' defaults), except `exclude`, plus the shared flags.

    Args:
        output: the default output folder.
        choices: `{field: allowed values}`.
        helps: `{field: what the flag does}`, over `COMMON_HELPS`;
            every flag's help ends with its default.
    """
    choices = choices or {}
    helps = {**COMMON_HELPS, **(helps or {})}
    result = argparse.ArgumentParser(description=description)
    for field in dataclasses.fields(defaults):
        if field.name in exclude:
            continue
        value = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        options = {"default": value, "choices": choices.get(field.name)}
        if isinstance(value, bool):
            options["action"] = argparse.BooleanOptionalAction
            options.pop("choices")
        elif isinstance(value, list):
            kind = type(value[0]) if value else str
            if kind in (int, float, str):
                options.update(nargs="+", type=kind)
            else:  # lists of lists (shapes): not a flag
                continue
        else:
            options["type"] = type(value)
        action = result.add_argument(flag, **options)
        # Set after: BooleanOptionalAction appends a default of its own
        # on some Python versions.
        text = f"{helps.get(field.name, '')} (default: {shown_default(value)})"
        action.help = text.strip().replace("%", "%%")  # argparse formats it
    result.add_argument(
        "--output",
        default=output,
        help=f"default {output or 'results/<name>'}",
    )
    result.add_argument("--fresh", action="store_true", help="start over")
    result.add_argument("--quiet", action="store_true", help="less output")
    result.add_argument(
        "--report",
        action="store_true",
        help="rewrite the pages from the output folder's results.json, "
        "without training",
    )
    return result


def config_from(args: argparse.Namespace, defaults):
    """The config the flags describe (fields without a flag keep their
    value in `defaults`)."""
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(defaults)
        if hasattr(args, f.name)
    }
    return dataclasses.replace(defaults, **given)


def open_store(args, defaults, experiment: str, argv=None, fresh=None):
    """(store, config): with `--report` the recorded ones, else a store in
    `args.output` for this invocation's config and command.

    Args:
        fresh: start over whatever the flags say (timings, which are not
            resumable); default `args.fresh`.
    """
    if args.report:
        store = ResultsStore.load(args.output)
        return store, type(defaults)(**store.config)
    config = config_from(args, defaults)
    store = ResultsStore(
        args.output,
        experiment,
        config,
        args.fresh if fresh is None else fresh,
        command_line(experiment, argv),
    )
    return store, config


def command(
    argv,
    defaults,
    name: str,
    description: str,
    run,
    write_page,
    fresh=None,
    **parser_options,
) -> None:
    """An experiment's `main`: its flags (`parser`, output folder
    results/<name>), its store (`open_store`), `run(store, config, output,
    args)` unless `--report`, then `write_page(store, config, output)`,
    whose text is printed."""
    args = parser(
        defaults, description, f"results/{name}", **parser_options
    ).parse_args(argv)
    store, config = open_store(args, defaults, name, argv, fresh)
    output = Path(args.output)
    if not args.report:
        print(f"{name} on {store.data['device']}", flush=True)
        output.mkdir(parents=True, exist_ok=True)
        run(store, config, output, args)
    print(write_page(store, config, output))


def command_line(module: str, argv=None) -> str:
    """The command as a user types it: `KERAS_BACKEND=... python -m
    experiments.<module> <flags>` (the backend only when not TensorFlow)."""
    import keras

    backend = keras.backend.backend()
    words = ["python", "-m", f"experiments.{module}"]
    words += list(sys.argv[1:] if argv is None else argv)
    prefix = "" if backend == "tensorflow" else f"KERAS_BACKEND={backend} "
    return prefix + shlex.join(words)


# -- the machine ---------------------------------------------------------


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


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpu_description(cpuinfo: str) -> str:
    """The first processor in /proc/cpuinfo: its name, with its x86
    family and model and widest vector instructions where it gives them.
    Hosts that a virtual machine names alike ("AMD EPYC") differ there,
    and the backends pick different kernels for them, which round
    differently (a training run's accuracies move) and run at different
    speeds."""
    fields = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    name = (
        fields.get("model name") or platform.processor() or platform.machine()
    )
    flags = set(fields.get("flags", "").split())
    details = []
    if "cpu family" in fields and "model" in fields:
        details.append(f"family {fields['cpu family']} model {fields['model']}")
    for flag, vectors in (("avx512f", "AVX-512"), ("avx2", "AVX2")):
        if flag in flags:
            details.append(vectors)
            break
    return f"{name} ({', '.join(details)})" if details else name


def _accelerators(backend: str) -> list[str]:
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    if backend == "torch":
        import torch

        if not torch.cuda.is_available():
            return []
        count = torch.cuda.device_count()
        return [torch.cuda.get_device_name(i) for i in range(count)]
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform != "cpu"]
    return []


def device() -> str:
    """The accelerator the backend uses, or the CPU with its generation
    and core count."""
    import keras

    try:
        accelerators = _accelerators(keras.backend.backend())
    except Exception as error:  # a broken driver must not stop a run
        accelerators = [f"unknown ({error})"]
    if accelerators:
        return ", ".join(accelerators)
    return f"CPU: {_cpu_description(_cpuinfo())}, {os.cpu_count()} cores"


# -- results -------------------------------------------------------------


def _with_defaults(recorded, config):
    """The recorded config with the fields it lacks at their defaults in
    `config`'s dataclass (as it was before they were added)."""
    if not isinstance(recorded, dict):
        return recorded
    try:
        defaults = dataclasses.asdict(type(config)())
    except TypeError:  # a field without a default
        return recorded
    return {
        **{k: v for k, v in defaults.items() if k not in recorded},
        **recorded,
    }


def _without_seeds(config):
    """A config without its number of seeds: more or fewer seeds extend or
    narrow a sweep without invalidating the runs recorded."""
    if not isinstance(config, dict):
        return config
    return {k: v for k, v in config.items() if k != "seeds"}


class ResultsStore:
    """results.json for one experiment folder, rewritten after every run.

    Args:
        folder: output folder.
        experiment: its name.
        config: a dataclass; a folder holding results of another config is
            refused (use a new folder, or `fresh=True` to start over),
            except when only `seeds` differs: the recorded runs are kept.
            A field the recorded config lacks (added to the experiment
            since) counts as its default.
        fresh: ignore what the folder holds.
        command: the command of this invocation, recorded with the date
            when it adds a run.
    """

    def __init__(self, folder, experiment, config, fresh=False, command=""):
        self.folder = Path(folder)
        self.path = self.folder / "results.json"
        self.config = dataclasses.asdict(config)
        # This invocation's command, machine and date, recorded with the
        # first run it adds (a resumed folder keeps the earlier ones until
        # then).
        self.invocation = {
            "versions": versions(),
            "device": device(),
            "command": command,
            "date": time.strftime("%Y-%m-%d"),
        }
        self.data = {
            "experiment": experiment,
            "config": self.config,
            **self.invocation,
            "runs": [],
        }
        if fresh:  # an interrupted run's BackupAndRestore state too
            shutil.rmtree(self.folder / "backup", ignore_errors=True)
        if self.path.exists() and not fresh:
            previous = json.loads(self.path.read_text())
            recorded = _with_defaults(previous.get("config"), config)
            if _without_seeds(recorded) != _without_seeds(self.config):
                raise ValueError(
                    f"{self.path} holds results of another configuration "
                    f"({previous.get('config')}); pass a new --output folder "
                    "or --fresh to overwrite it"
                )
            # Only the number of seeds changed: the recorded runs stay and
            # the folder now describes this invocation's seeds.
            self.data = {
                **previous,
                "config": self.config,
                "runs": previous.get("runs", []),
            }

    @classmethod
    def load(cls, folder) -> ResultsStore:
        """The store as recorded, for rewriting its pages (`--report`)."""
        store = cls.__new__(cls)
        store.folder = Path(folder)
        store.path = store.folder / "results.json"
        if not store.path.exists():
            raise FileNotFoundError(
                f"--report reads {store.path}, which does not exist; run the "
                "experiment first or pass its --output folder"
            )
        store.data = json.loads(store.path.read_text())
        store.config = store.data["config"]
        store.invocation = {}
        return store

    @property
    def runs(self) -> list:
        return self.data["runs"]

    def find(self, **keys):
        for run in self.runs:
            if all(run.get(k) == v for k, v in keys.items()):
                return run
        return None

    def add(self, run: dict) -> None:
        """Records a finished run, with this invocation's command, machine
        and date."""
        self.runs.append(run)
        self.data.update(self.invocation)
        self.save()

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.data, indent=2) + "\n")


class Progress:
    """One line per finished run: how many, elapsed, and a rough ETA
    (without a `total`: how many and elapsed)."""

    def __init__(self, total: int | None):
        self.total = total
        self.done = 0
        self.start = time.perf_counter()

    def step(self, message: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        if self.total is None:
            print(f"[{self.done}] {message} (elapsed {elapsed:.0f} s)")
            return
        eta = elapsed / self.done * (self.total - self.done)
        print(
            f"[{self.done}/{self.total}] {message} "
            f"(elapsed {elapsed:.0f} s, about {eta:.0f} s left)",
            flush=True,
        )


def backup_folder(output, keys: dict) -> Path:
    """Where the run named by `keys` keeps its BackupAndRestore state."""
    return Path(output) / "backup" / "-".join(str(v) for v in keys.values())


def run_plan(store, plan, run_one, describe=None, take=None) -> None:
    """Runs every planned run that `store` has not recorded.

    Args:
        plan: a list of key dicts, one per run (`{"model": ..., ...}`).
        run_one: `keys -> run dict` (the keys are added to it); may
            train with BackupAndRestore in `backup_folder(store.folder,
            keys)`, which is removed once the run is recorded.
        describe: `run -> str` for the progress line.
        take: None, or `keys -> bool`, asked just before a run starts:
            False leaves it to another worker (`claim`); the progress
            lines then count this worker's runs, without an ETA.
    """
    progress = Progress(len(plan) if take is None else None)
    for keys in plan:
        name = ", ".join(f"{k} {v}" for k, v in keys.items())
        if store.find(**keys) is not None:
            progress.step(f"{name}: done before")
            continue
        if take is not None and not take(keys):
            continue  # another worker's
        print(f"--- {name}", flush=True)
        run = {**run_one(keys), **keys}
        store.add(run)
        shutil.rmtree(backup_folder(store.folder, keys), ignore_errors=True)
        progress.step(f"{name}: {describe(run) if describe else 'done'}")


# -- worker processes ----------------------------------------------------

# One thread per worker process, for each backend's library (read when it
# starts): the runs are small enough that one process with two threads
# leaves most of the second core idle.
WORKER_THREADS = {
    "OMP_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false "
    "intra_op_parallelism_threads=1",
}


def default_workers(limit: int = 2) -> int:
    """Runs at a time unless asked: `limit` on a machine with at least
    that many cores and no GPU (on a GPU the runs would share it, and JAX
    reserves most of its memory per process), else 1."""
    if (os.cpu_count() or 1) < limit or _accelerators(_backend()):
        return 1
    return limit


def _backend() -> str:
    import keras

    return keras.backend.backend()


def workers_folder(output) -> Path:
    return Path(output) / "workers"


def worker_store_folder(output, worker: int) -> Path:
    """Where worker `worker` records its runs."""
    return workers_folder(output) / str(worker)


def claim(output, keys: dict) -> bool:
    """Whether this worker takes the run named by `keys`: True for the
    first worker to ask (its claim file is created atomically)."""
    folder = workers_folder(output) / "claims"
    folder.mkdir(parents=True, exist_ok=True)
    name = "-".join(f"{k}={v}" for k, v in keys.items())
    name = "".join(c if c.isalnum() or c in "=-_." else "_" for c in name)
    try:
        os.close(os.open(folder / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def gather_workers(store, keys: tuple) -> int:
    """Records in `store` the runs that worker stores hold and it lacks
    (`keys`: the fields that name a run); returns how many."""
    added = 0
    for path in sorted(workers_folder(store.folder).glob("*/results.json")):
        for run in json.loads(path.read_text()).get("runs", []):
            if store.find(**{k: run[k] for k in keys}) is None:
                store.add(run)
                added += 1
    return added


def run_in_workers(store, module: str, argv, workers: int, keys: tuple):
    """Runs `python -m experiments.<module> <argv> --worker k` for k <
    `workers`, one thread each, and records their runs in `store`.

    Each worker runs the same plan, taking the runs no other worker has
    claimed and that `store` lacks, into its own store
    (`worker_store_folder`); an interrupted invocation's finished runs are
    gathered first and not run again. Raises if a worker failed, after
    gathering what the others finished."""
    gather_workers(store, keys)
    shutil.rmtree(workers_folder(store.folder) / "claims", ignore_errors=True)
    argv = [a for a in argv if a != "--fresh"]
    # TensorFlow's start-up lines once, from this process, not per worker.
    environment = {"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ, **WORKER_THREADS}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", f"experiments.{module}", *argv]
            + ["--output", str(store.folder), "--worker", str(k)],
            env=environment,
        )
        for k in range(workers)
    ]
    codes = [child.wait() for child in children]
    gather_workers(store, keys)
    failed = [k for k, code in enumerate(codes) if code != 0]
    if failed:
        raise RuntimeError(
            f"worker(s) {failed} of experiments.{module} failed (exit codes "
            f"{[codes[k] for k in failed]}); the runs they finished are "
            f"recorded in {store.path}, and running the command again "
            "resumes the rest"
        )
    shutil.rmtree(workers_folder(store.folder), ignore_errors=True)
