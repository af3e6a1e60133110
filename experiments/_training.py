"""Small models for the synthetic tasks, and one training run, timed.

Used by the experiments; importable so a notebook can repeat one run.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from experiments._data import TextConfig
from keras_gates import Chrono, GatedGRU, GatedLSTM
from keras_gates.tasks import Task, get_task

MODELS = {
    "GatedLSTM": GatedLSTM,
    "GatedGRU": GatedGRU,
    "LSTM": keras.layers.LSTM,
    "GRU": keras.layers.GRU,
    "SimpleRNN": keras.layers.SimpleRNN,
}
INITS = ("default", "chrono", "forget0")
_LSTM_FAMILY = ("GatedLSTM", "LSTM")
_GRU_FAMILY = ("GatedGRU", "GRU")


def check_model_names(names) -> list[str]:
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ValueError(
            f"unknown model(s) {unknown}; valid models: {', '.join(MODELS)}"
        )
    return list(names)


def _gain(init: str) -> float:
    """The recurrent kernel's gain an init name asks for (1 unless
    "gain:<g>")."""
    if init in INITS:
        return 1.0
    if isinstance(init, str) and init.startswith("gain:"):
        try:
            gain = float(init[len("gain:") :])
        except ValueError:
            gain = -1.0
        if gain > 0:
            return gain
    raise ValueError(
        f"init must be one of {INITS} or 'gain:<positive number>', got {init!r}"
    )


def recurrent_layer(
    model: str,
    units: int,
    init: str = "default",
    max_timesteps: int | None = None,
    seed: int = 0,
    **kwargs,
):
    """One recurrent layer by name, with Keras's or chrono initialisation.

    Args:
        model: one of `MODELS`.
        units: int.
        init: "default" (Keras's initialisers, forget bias 1), "chrono"
            (`Chrono(max_timesteps)` on the gate biases; LSTM/GRU only),
            "forget0" (every bias 0, the forget gate's too: the LSTM
            before Gers et al. and Jozefowicz et al.'s bias of 1; LSTM
            only) or
            "gain:<g>" (the recurrent kernel orthogonal times g, e.g.
            "gain:0.9"; Keras's default is "gain:1").
        max_timesteps: T for chrono.
        seed: seeds the weight initialisers.
        **kwargs: passed to the layer.
    """
    check_model_names([model])
    gain = _gain(init)
    options = {
        "kernel_initializer": keras.initializers.GlorotUniform(seed),
        "recurrent_initializer": keras.initializers.Orthogonal(
            gain=gain, seed=seed + 1
        ),
        **kwargs,
    }
    if init == "forget0":
        if model not in _LSTM_FAMILY:
            raise ValueError(
                f"init='forget0' sets an LSTM's forget bias to 0; {model} "
                "has no forget gate"
            )
        options["unit_forget_bias"] = False
    if init == "chrono":
        if model == "SimpleRNN":
            raise ValueError(
                "init='chrono' sets gate biases; SimpleRNN has no gates"
            )
        if max_timesteps is None:
            raise ValueError("init='chrono' needs max_timesteps")
        cell = "lstm" if model in _LSTM_FAMILY else "gru"
        options["bias_initializer"] = Chrono(max_timesteps, cell, seed=seed)
        if cell == "lstm":
            options["unit_forget_bias"] = False
    return MODELS[model](units, **options)


def build_model(
    task: Task | str,
    model: str,
    units: int = 32,
    embedding: int = 16,
    init: str = "default",
    max_timesteps: int | None = None,
    learning_rate: float = 3e-3,
    seed: int = 0,
    layer_options: dict | None = None,
) -> keras.Model:
    """Input -> (Embedding) -> recurrent layer named "recurrent" -> head.

    `layer_options` go to the recurrent layer (e.g. `{"variant": "cifg"}`
    for a GatedLSTM)."""
    task = get_task(task) if isinstance(task, str) else task
    if task.vocabulary:
        inputs = keras.Input((None,), dtype="int32", name="tokens")
        x = keras.layers.Embedding(
            task.vocabulary,
            embedding,
            embeddings_initializer=keras.initializers.RandomUniform(
                -0.05, 0.05, seed=seed + 2
            ),
        )(inputs)
    else:
        inputs = keras.Input((None, task.features), name="values")
        x = inputs
    sequence_out = task.kind == "sequence"
    layer = recurrent_layer(
        model,
        units,
        init=init,
        max_timesteps=max_timesteps,
        seed=seed,
        return_sequences=sequence_out,
        name="recurrent",
        **(layer_options or {}),
    )
    x = layer(x)
    dense_init = keras.initializers.GlorotUniform(seed + 3)
    if task.kind == "binary":
        outputs = keras.layers.Dense(
            1, "sigmoid", kernel_initializer=dense_init
        )(x)
        loss, metrics = "binary_crossentropy", ["accuracy"]
    elif task.kind == "regression":
        outputs = keras.layers.Dense(1, kernel_initializer=dense_init)(x)
        loss, metrics = "mse", []
    else:
        outputs = keras.layers.Dense(
            task.classes, "softmax", kernel_initializer=dense_init
        )(x)
        loss = "sparse_categorical_crossentropy"
        metrics = ["accuracy"]
    net = keras.Model(inputs, outputs, name=f"{model}_{task.name}")
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=loss,
        metrics=metrics,
    )
    return net


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each training epoch."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class StopWhenSolved(keras.callbacks.Callback):
    """Ends training after the first epoch whose validation accuracy
    reaches `threshold`; `epochs` is then how many epochs ran (counted
    from the first, so a run resumed by BackupAndRestore counts its
    earlier epochs too)."""

    def __init__(self, threshold: float, epochs: int):
        super().__init__()
        self.threshold = threshold
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get("val_accuracy", 0.0) >= self.threshold:
            self.epochs = epoch + 1
            self.model.stop_training = True


def headline(task: Task, model: keras.Model, x, y, batch_size=256) -> float:
    """The task's headline metric on (x, y)."""
    results = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    results = dict(
        zip(model.metrics_names, np.atleast_1d(results), strict=False)
    )
    if task.metric == "accuracy":
        return float(results.get("accuracy", results.get("compile_metrics")))
    return float(results["loss"])


def train_run(
    task: Task | str,
    model: str,
    data: dict,
    length: int,
    epochs: int,
    units: int = 32,
    init: str = "default",
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
    backup_dir: str | Path | None = None,
    callbacks=(),
    verbose: int | str = "auto",
    layer_options: dict | None = None,
    stop_at: float = 0.0,
):
    """Trains one model on one task and length; returns (model, run dict).

    `layer_options` go to the recurrent layer (see `build_model`). With
    `stop_at` > 0 on an accuracy task, training ends after the first epoch
    whose validation accuracy reaches it; the run records the epochs it
    trained.

    With `backup_dir`, `keras.callbacks.BackupAndRestore` keeps the run's
    state there so an interrupted run resumes from its last epoch; the
    backup is deleted when the run finishes.
    """
    task = get_task(task) if isinstance(task, str) else task
    keras.utils.set_random_seed(seed)
    net = build_model(
        task,
        model,
        units=units,
        init=init,
        max_timesteps=length,
        learning_rate=learning_rate,
        seed=seed,
        layer_options=layer_options,
    )
    timer = EpochTimer()
    stopper = StopWhenSolved(stop_at, epochs)
    all_callbacks = [timer, *callbacks]
    if stop_at > 0 and task.metric == "accuracy":
        all_callbacks.append(stopper)
    if backup_dir is not None:
        all_callbacks.insert(
            0, keras.callbacks.BackupAndRestore(str(backup_dir))
        )
    x_train, y_train = data["train"]
    history = net.fit(
        x_train,
        y_train,
        validation_data=data["validation"],
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=all_callbacks,
        verbose=verbose,
    )
    value = headline(task, net, *data["test"])
    # Skip the first epoch (graph tracing) when there are others.
    timed = timer.seconds[1:] or timer.seconds
    run = {
        "model": model,
        "task": task.name,
        "length": length,
        "init": init,
        "metric": task.metric,
        "value": value,
        "baseline": float(task.baseline(length)),
        "params": int(net.get_layer("recurrent").count_params()),
        "seconds_per_epoch": float(np.median(timed)) if timed else None,
        "epochs": stopper.epochs,
        "seed": seed,
        "history": {
            k: [float(v) for v in vs] for k, vs in history.history.items()
        },
    }
    return net, run


def build_text_model(
    model: str,
    text: TextConfig,
    units: int = 64,
    embedding: int = 128,
    embedding_dropout: float = 0.3,
    dropout: float = 0.2,
    learning_rate=1e-3,
    seed: int = 0,
    recurrent_dropout: float = 0.0,
    layer_options: dict | None = None,
) -> keras.Model:
    """Embedding (masked) -> dropout -> one recurrent layer -> Dense.

    `learning_rate` is a float or a `keras.optimizers.schedules` schedule;
    `layer_options` go to the recurrent layer.
    """
    check_model_names([model])
    inputs = keras.Input((text.length,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(
        text.vocabulary, embedding, mask_zero=True, name="embedding"
    )(inputs)
    x = keras.layers.SpatialDropout1D(embedding_dropout, seed=seed)(x)
    options = {"dropout": dropout, "seed": seed, "name": "recurrent"}
    if recurrent_dropout:
        options["recurrent_dropout"] = recurrent_dropout
    x = MODELS[model](units, **options, **(layer_options or {}))(x)
    outputs = keras.layers.Dense(1, "sigmoid", name="sentiment")(x)
    net = keras.Model(inputs, outputs, name=f"imdb_{model}")
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return net
