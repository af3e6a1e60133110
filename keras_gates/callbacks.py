"""Keras callbacks that record and plot gates while a model trains.

Both callbacks read the gates of every LSTM/GRU layer of the model on a
fixed probe batch (through `GateExtractor`, so models built with the
built-in layers work too). When both fire on the same epoch with the same
probe, the gates are read once and shared.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
import weakref
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np

from keras_gates._validation import boolean, positive_int
from keras_gates.files import atomic_path
from keras_gates.inspection.extract import GateExtractor
from keras_gates.inspection.stats import log_statistics
from keras_gates.viz import plots, viewer

# -- shared reading ----------------------------------------------------------


class _Page(NamedTuple):
    """A viewer page to write: what `GatePlotter._draw` gets instead of a
    figure."""

    gates: dict
    tokens: list | None
    title: str
    names: list


def _token_lists(tokens) -> list[list[str]] | None:
    """None, or a list of token lists (one list: the example sequence)."""
    if tokens is None:
        return None
    tokens = list(tokens)
    if (
        tokens
        and not isinstance(tokens[0], str)
        and isinstance(tokens[0], Sequence)
    ):
        return [[str(t) for t in sequence] for sequence in tokens]
    return [[str(t) for t in tokens]]


_last_read: dict = {}  # {"key": ..., "gates": ...}: one epoch's gates
_extractors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _extractor(model) -> GateExtractor:
    """One GateExtractor (one probe model to trace) per model."""
    if model not in _extractors:
        _extractors[model] = GateExtractor(model)
    return _extractors[model]


def _fingerprint(probe) -> tuple:
    array = np.ascontiguousarray(keras.ops.convert_to_numpy(probe))
    return array.shape, str(array.dtype), hash(array.tobytes())


class _ProbeReader:
    """Reads a probe's gates, sharing one read between callbacks."""

    def __init__(self, probe, name: str):
        self.name = name
        self.probe = probe
        self.fingerprint = None
        self.extractor = None

    def setup(self, model) -> None:
        """Checks the probe against the model, before the first batch."""
        probe = self.probe
        if not hasattr(probe, "shape") or not hasattr(probe, "dtype"):
            raise TypeError(
                f"{self.name}: probe must be an array (batch, time, ...), got "
                f"{type(probe).__name__}"
            )
        probe = np.asarray(keras.ops.convert_to_numpy(probe))
        self.extractor = _extractor(model)
        expected = model.inputs[0]
        want = tuple(expected.shape)
        if probe.ndim != len(want) or any(
            w is not None and w != p
            for w, p in zip(want[1:], probe.shape[1:], strict=True)
        ):
            raise ValueError(
                f"{self.name}: probe has shape {probe.shape}, but the model "
                f"takes inputs of shape {want}; pass a slice of the training "
                "inputs, e.g. x[:64]"
            )
        wants_ints = "int" in str(expected.dtype)
        if wants_ints and not np.issubdtype(probe.dtype, np.integer):
            raise ValueError(
                f"{self.name}: probe has dtype {probe.dtype}, but the model "
                f"takes {expected.dtype} (token ids); pass integer ids"
            )
        numeric = np.issubdtype(probe.dtype, np.number)
        if not wants_ints and not (numeric or probe.dtype == bool):
            raise ValueError(
                f"{self.name}: probe has dtype {probe.dtype}, the model takes "
                f"{expected.dtype}"
            )
        if not wants_ints:
            # As `fit` does: one-hot bool or integer arrays feed a float
            # model cast to its input dtype.
            probe = probe.astype(str(expected.dtype), copy=False)
        self.probe = probe
        self.fingerprint = _fingerprint(probe)
        self.read(model, "train_begin")  # fail now, not after an epoch

    def read(self, model, when) -> dict:
        # The optimizer's step count tells apart two fits' "epoch 0".
        optimizer = getattr(model, "optimizer", None)
        step = None if optimizer is None else int(optimizer.iterations)
        key = (id(model), when, step, self.fingerprint)
        if _last_read.get("key") != key:
            _last_read.clear()  # only the latest read is kept in memory
            _last_read.update(key=key, gates=self.extractor(self.probe))
        return _last_read["gates"]


# -- the .npz history --------------------------------------------------------


class GateHistory(NamedTuple):
    """Gate arrays recorded per epoch by `GateRecorder(path=...)`."""

    epochs: list  # 1-based epoch numbers, as Keras prints them
    gates: dict  # {layer: {gate: array (epochs, batch, time, units)}}


def _member(epoch: int, layer: str, gate: str) -> str:
    return f"epoch{epoch:05d}/{layer}/{gate}.npy"


def append_gate_arrays(path, epoch: int, gates: dict) -> None:
    """Adds one epoch's gates to the `.npz` at `path`, atomically.

    The archive is copied to a temporary file next to it, the epoch is
    appended (replacing an earlier record of the same epoch, as after a
    resumed run), and the copy is renamed over the original: a crash at any
    point leaves either the old or the new file, never a broken one.
    """
    path = Path(path)
    prefix = f"epoch{epoch:05d}/"
    with atomic_path(path) as tmp:
        if path.exists():
            with zipfile.ZipFile(path) as source:
                names = source.namelist()
            if any(n.startswith(prefix) for n in names):
                with (
                    zipfile.ZipFile(path) as source,
                    zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target,
                ):
                    for info in source.infolist():
                        if not info.filename.startswith(prefix):
                            target.writestr(info, source.read(info))
            else:
                shutil.copyfile(path, tmp)
        else:
            tmp.unlink()  # a fresh archive, not an empty file
        with zipfile.ZipFile(tmp, "a", zipfile.ZIP_DEFLATED) as archive:
            for layer, layer_gates in gates.items():
                for gate, values in layer_gates.items():
                    name = _member(epoch, layer, gate)
                    with archive.open(name, "w", force_zip64=True) as handle:
                        np.lib.format.write_array(handle, np.asarray(values))


def load_gate_history(path) -> GateHistory:
    """Reads the `.npz` written by `GateRecorder(path=...)`.

    Returns:
        `GateHistory(epochs, gates)`: the recorded epoch numbers (1-based)
        and `{layer: {gate: array (epochs, batch, time, units)}}`.

    Example:

    >>> history = load_gate_history("gates.npz")
    >>> plots.gate_evolution(history.gates["lstm"], epochs=history.epochs)
    """
    records: dict = {}
    with np.load(path) as archive:
        for key in archive.files:
            epoch_part, rest = key.split("/", 1)
            layer, gate = rest.rsplit("/", 1)
            epoch = int(epoch_part.removeprefix("epoch"))
            records.setdefault(layer, {}).setdefault(gate, {})[epoch] = archive[
                key
            ]
    epochs = sorted(
        {e for lg in records.values() for g in lg.values() for e in g}
    )
    gates = {
        layer: {
            gate: np.stack([by_epoch[e] for e in epochs])
            for gate, by_epoch in layer_gates.items()
        }
        for layer, layer_gates in records.items()
    }
    return GateHistory(epochs, gates)


def _check_writable(name: str, argument: str, folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(
            f"{name}: {argument} {str(folder)!r} cannot be written ({error}); "
            "pass a folder you can write to"
        ) from error


# -- the callbacks -----------------------------------------------------------


class GateRecorder(keras.callbacks.Callback):
    """Adds gate statistics to the training logs; optionally keeps the gates.

    After every `every` epochs it reads the gates of every LSTM/GRU layer on
    `probe` and adds, for each layer and gate, `gates/<layer>/<gate>_mean`,
    `_std`, and for sigmoid gates `_left_saturated` (fraction < 0.1) and
    `_right_saturated` (fraction > 0.9) (Karpathy, Johnson & Fei-Fei 2015)
    to the epoch's logs, so they appear in `History.history`, the progress
    bar, and in `CSVLogger`/`TensorBoard` placed after it in `callbacks`.
    Masked steps are skipped.

    Args:
        probe: a fixed batch of model inputs, e.g. `x[:64]`.
        every: int, default 1: record after every `every` epochs.
        batch_every: int or None (default): also record every this many
            batches, into the batch logs and `batch_history`.
        path: optional `.npz` file that keeps the probe's full gate arrays
            for every recorded epoch, appended atomically (a crash never
            leaves a broken file); read it with `load_gate_history(path)`.

    Bad input (a probe of the wrong shape or dtype, a model without
    LSTM/GRU layers, an unwritable path) fails at `on_train_begin`.

    Example:

    >>> recorder = GateRecorder(x[:64], path="gates.npz")
    >>> history = model.fit(x, y, callbacks=[recorder])
    >>> history.history["gates/lstm/forget_mean"]
    """

    def __init__(self, probe, every: int = 1, batch_every=None, path=None):
        super().__init__()
        self.every = positive_int("every", every)
        self.batch_every = (
            None
            if batch_every is None
            else positive_int("batch_every", batch_every)
        )
        self.path = None if path is None else Path(path)
        self.batch_history: list = []
        self._reader = _ProbeReader(probe, "GateRecorder")
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._reader.setup(self.model)
        if self.path is not None:
            _check_writable("GateRecorder", "path's folder", self.path.parent)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        gates = self._reader.read(self.model, ("epoch", epoch))
        if logs is not None:
            logs.update(log_statistics(gates))
        if self.path is not None:
            append_gate_arrays(self.path, epoch + 1, gates)

    def on_train_batch_end(self, batch, logs=None):
        if self.batch_every is None or (batch + 1) % self.batch_every:
            return
        gates = self._reader.read(self.model, ("batch", self._epoch, batch))
        stats = log_statistics(gates)
        self.batch_history.append(
            {"epoch": self._epoch + 1, "batch": batch + 1, **stats}
        )
        if logs is not None:
            logs.update(stats)


def _slug(layer_path: str) -> str:
    return layer_path.replace("/", "__")


class GatePlotter(keras.callbacks.Callback):
    """Writes gate figures while a model trains.

    Each time it fires (every `every` epochs) it writes, per LSTM/GRU layer,
    into `directory/<layer>/`:
      - `heatmap_epochNNN.png`: every gate, cell and hidden state as
        units x time for probe sequence `example`, with `tokens` on the time
        axis when given (`plots.gate_heatmap`);
      - `saturation_epochNNN.png`: the Karpathy et al. saturation scatter
        over the whole probe (`plots.saturation`);
      - with `html=True`, `gates_epochNNN.html`: the gate viewer
        (`viewer.write_html`) on up to `html_sequences` probe sequences
        from `example` on (only `example` when `tokens` labels it alone);
    and at the end of training `evolution.png`: how each gate's
    distribution moved from epoch to epoch (`plots.gate_evolution`).

    Args:
        probe: a fixed batch of model inputs, e.g. `x[:64]`.
        directory: folder for the figures (created).
        tokens: optional labels of the timesteps (words, symbols), one
            per step: a list for probe sequence `example`, or one list
            per probe sequence.
        every: int, default 1.
        tensorboard_dir: optional log folder; with the TensorFlow backend
            the figures also go to TensorBoard's Images tab. On other
            backends a warning says so, once.
        example: int, default 0: which probe sequence the heatmap shows.
        html: bool, default False: also write the gate viewer page.
        html_sequences: int, default 8: most sequences on a page.

    Memory stays bounded: between epochs it keeps only a fixed sample of at
    most 20,000 values per gate for the evolution figure. A figure that
    fails to draw is reported once (a warning) and training goes on.
    """

    evolution_sample = 20_000

    def __init__(
        self,
        probe,
        directory,
        tokens: Sequence[str] | None = None,
        every: int = 1,
        tensorboard_dir=None,
        example: int = 0,
        html: bool = False,
        html_sequences: int = 8,
    ):
        plots.require_matplotlib("GatePlotter")
        super().__init__()
        self.directory = Path(directory)
        self.tokens = _token_lists(tokens)
        self.every = positive_int("every", every)
        self.html = boolean("html", html)
        self.html_sequences = positive_int("html_sequences", html_sequences)
        self.tensorboard_dir = tensorboard_dir
        self.example = example
        self._reader = _ProbeReader(probe, "GatePlotter")
        self._samples: dict = {}  # {layer: {gate: [per-epoch sample]}}
        self._epochs: list = []
        self._failed = False
        self._tensorboard = None
        self.written: list = []

    def on_train_begin(self, logs=None):
        self._reader.setup(self.model)
        probe = self._reader.probe
        if not 0 <= self.example < probe.shape[0]:
            raise ValueError(
                f"GatePlotter: example must be in [0, {probe.shape[0]}) for a "
                f"probe of {probe.shape[0]} sequences, got {self.example}"
            )
        self._check_tokens(probe.shape)
        _check_writable("GatePlotter", "directory", self.directory)
        if self.tensorboard_dir is not None:
            if keras.backend.backend() == "tensorflow":
                from keras_gates.tensorboard import ImageWriter

                self._tensorboard = ImageWriter(self.tensorboard_dir)
            else:
                warnings.warn(
                    "GatePlotter: tensorboard_dir needs the TensorFlow backend "
                    f"(this is {keras.backend.backend()}); the figures are "
                    f"written to {str(self.directory)!r} only",
                    stacklevel=2,
                )
        self._samples, self._epochs = {}, []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        gates = self._reader.read(self.model, ("epoch", epoch))
        self._epochs.append(epoch + 1)
        for layer, layer_gates in gates.items():
            self._keep_sample(layer, layer_gates)
            folder = self.directory / _slug(layer)
            self._draw(
                folder / f"heatmap_epoch{epoch + 1:03d}.png",
                epoch,
                lambda g=layer_gates, name=layer, e=epoch: plots.gate_heatmap(
                    g,
                    tokens=self._example_tokens(),
                    example=self.example,
                    title=f"{name}: gates on probe sequence {self.example}, "
                    f"after epoch {e + 1}",
                ),
            )
            self._draw(
                folder / f"saturation_epoch{epoch + 1:03d}.png",
                epoch,
                lambda g=layer_gates, name=layer, e=epoch: plots.saturation(
                    g, title=f"{name}: saturation after epoch {e + 1}"
                ),
            )
            if self.html:
                self._draw(
                    folder / f"gates_epoch{epoch + 1:03d}.html",
                    epoch,
                    lambda g=layer_gates, name=layer, e=epoch: self._page(
                        g, f"{name}: gates after epoch {e + 1}"
                    ),
                )

    def on_train_end(self, logs=None):
        if not self._epochs:
            return
        for layer, samples in self._samples.items():
            self._draw(
                self.directory / _slug(layer) / "evolution.png",
                self._epochs[-1] - 1,
                lambda s=samples, name=layer: plots.gate_evolution(
                    s,
                    epochs=self._epochs,
                    title=f"{name}: gate distributions over training",
                ),
            )
        if self._tensorboard is not None:
            self._tensorboard.close()

    def _check_tokens(self, shape):
        if self.tokens is None:
            return
        if len(self.tokens) not in (1, shape[0]):
            raise ValueError(
                f"GatePlotter: tokens has {len(self.tokens)} lists but the "
                f"probe has {shape[0]} sequences; pass one list for the "
                "example sequence or one per probe sequence"
            )
        for index, tokens in enumerate(self.tokens):
            if len(tokens) != shape[1]:
                which = (
                    "the example sequence"
                    if len(self.tokens) == 1
                    else (f"probe sequence {index}")
                )
                raise ValueError(
                    f"GatePlotter: tokens has {len(tokens)} entries for "
                    f"{which} but the probe sequences have {shape[1]} "
                    "timesteps; pass one token per step"
                )

    def _example_tokens(self):
        if self.tokens is None:
            return None
        return self.tokens[0 if len(self.tokens) == 1 else self.example]

    def _page(self, layer_gates, title):
        """The viewer on the example sequence and those after it."""
        batch = next(iter(layer_gates.values())).shape[0]
        if self.tokens is not None and len(self.tokens) == 1:
            chosen = [self.example]
        else:
            chosen = list(range(batch))[self.example :][: self.html_sequences]
        tokens = None
        if self.tokens is not None:
            tokens = (
                [self._example_tokens()]
                if len(chosen) == 1
                else [self.tokens[index] for index in chosen]
            )
        return _Page(
            {name: values[chosen] for name, values in layer_gates.items()},
            tokens,
            title,
            [f"probe sequence {index}" for index in chosen],
        )

    def _keep_sample(self, layer, layer_gates):
        kept = self._samples.setdefault(layer, {})
        for gate, values in layer_gates.items():
            flat = np.asarray(values, dtype="float32").ravel()
            if flat.size > self.evolution_sample:
                index = np.random.default_rng(0).choice(
                    flat.size, self.evolution_sample, replace=False
                )
                flat = flat[index]
            kept.setdefault(gate, []).append(flat.copy())

    def _draw(self, path: Path, epoch: int, make_figure):
        try:
            figure = make_figure()
            if isinstance(figure, _Page):
                viewer.write_html(
                    figure.gates,
                    figure.tokens,
                    path,
                    title=figure.title,
                    sequence_names=figure.names,
                )
                self.written.append(path)
                return
            plots.save_figure(figure, path)
            self.written.append(path)
            if self._tensorboard is not None:
                self._tensorboard.write(
                    f"{path.parent.name}/{path.stem.split('_epoch')[0]}",
                    figure,
                    epoch,
                )
        except Exception as error:  # a figure must never stop training
            if not self._failed:
                self._failed = True
                warnings.warn(
                    f"GatePlotter could not write {path}: "
                    f"{type(error).__name__}: {error}. Training goes on; "
                    "further failures are not reported.",
                    stacklevel=2,
                )
