"""The one training loop, for every task (detect, pose, segment, enhance, classify and any registered task):
one place for epochs, checkpoints, resume, mixed precision, history and the run folder (docs/contracts.md §1).

A task hands in a ``TaskSpec``: its training model, a loss over (batch, model outputs), its batches (numpy
batches, or a tf.data pipeline), an evaluation on its validation set, the inference model that goes into
``model.keras``, and the task's part of run.json (labels, input, model, outputs, decode, data, and any field of
its own). Optionally its optimizer and a fixed number of steps per epoch. Everything else is here.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import numpy as np
import tensorflow as tf
import tf_keras as keras

from .common_options import PRECISIONS
from .distribute import CheckpointFolder, pick_distribution
from .ema import WeightAverage, check_ema
from .epochs import BestEpoch, Progress, check_epoch_options, epoch_line, headline_metric, shown_metrics
from .run_folder import (INPUT_MEAN, INPUT_STD, RunPaths, append_history, build_run_json, read_history,
                         truncate_history, utc_now, write_json_atomic)
from .transfer import BestWeights, load_initial_weights, train_phases

log = logging.getLogger("train.tasks")


class TaskConfigError(ValueError):
    """A training option of a task is invalid or conflicts with the run folder; the message names the option."""


RESUME_FIELDS = ("labels", "input", "model")  # run.json fields a --resume must not change


@dataclass
class FitConfig:
    out: Path
    epochs: int = 10
    batch_size: int = 16
    learning_rate: float = 2e-3
    resume: bool = False
    seed: int = 0
    name: str = ""
    bn_momentum: float = 0.9  # BatchNormalization momentum is lowered to this when higher
    strategy: str = "auto"  # train/distribute.py: auto, default, mirrored or multiworker
    patience: int = 0  # stop after this many epochs without a better headline metric (0: never)
    weights: str | None = None  # initial weights (train/transfer.py)
    freeze_epochs: int = 0  # with weights: backbone frozen for this many epochs first
    show_progress: bool = True  # a bar on a terminal; one line per epoch always
    width: float | None = None  # the backbone width, named in a weights-mismatch message
    # "auto": mixed float16 where train/distribute.py::pick_distribution finds a GPU; "float32"; "mixed" forces it
    # (on a CPU too: slow, but it is how the tests check the mixed path). model.keras is float32 either way.
    precision: str = "auto"
    ema: float = 0.0  # decay of the weight average that validation and model.keras use (train/ema.py); 0 = off

    def validate(self) -> "FitConfig":
        if int(self.epochs) < 1:
            raise TaskConfigError(f"--epochs {self.epochs}: expected at least 1")
        if int(self.batch_size) < 1:
            raise TaskConfigError(f"--batch {self.batch_size}: expected at least 1")
        if not float(self.learning_rate) >= 0:  # the command line asks > 0; 0 (weights never move) is for tests
            raise TaskConfigError(f"--lr {self.learning_rate}: expected a number >= 0")
        if self.precision not in PRECISIONS:
            raise TaskConfigError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        check_epoch_options(int(self.epochs), int(self.patience), int(self.freeze_epochs), self.weights,
                            self.strategy == "multiworker")
        check_ema(self.ema, self.strategy == "multiworker")
        self.out = Path(self.out)
        self.name = self.name or self.out.resolve().name
        return self


class TaskSpec(Protocol):
    """What a task hands to ``fit``. Optional, looked up with getattr:

    - ``optimizer(cfg: FitConfig) -> keras optimizer``: the task's own (detection: AdamW with a warmup-cosine
      schedule); without it, Adam at cfg.learning_rate, decayed by ``learning_rate_schedule(base, epochs)``
      when the task has one, clipped to a global norm of 10. Under mixed precision fit wraps it in a
      LossScaleOptimizer.
    - ``steps_per_epoch: int``: exactly this many batches per epoch (needed when ``batches`` repeats; under
      multi-worker training it keeps every worker's collective steps in step).
    """

    task: str

    def build(self) -> keras.Model:
        """The training model, built under the current Keras dtype policy (mixed_float16 or float32); fit calls it
        again under float32 for the model it saves, so it must build the same layers every time."""

    def batches(self, epoch: int) -> Iterable[tuple[Any, Any]] | tf.data.Dataset:
        """One epoch of (inputs, targets): numpy batches shuffled deterministically by epoch, or a tf.data
        dataset of global batches (detection's train/pipeline.py) that fit distributes over the replicas."""

    def loss(self, targets, outputs, model: keras.Model) -> dict[str, tf.Tensor]:
        """{"loss": total, ...parts}; called inside tf.function with the outputs cast to float32."""

    def evaluate(self, model: keras.Model) -> dict[str, float]: ...

    def inference_model(self, model: keras.Model) -> keras.Model: ...

    def run_fields(self) -> dict:
        """labels, input, model, outputs, decode and data of run.json (and any field of the task's own)."""


def input_spec(width: int, height: int) -> dict:
    """Our models all take RGB 0..255 scaled to 0..1, stretched to width x height."""
    return {"width": int(width), "height": int(height), "channels": 3, "color": "RGB", "resize": "stretch",
            "mean": list(INPUT_MEAN), "std": list(INPUT_STD)}


def output_entry(model: keras.Model, name: str, role: str) -> dict:
    for out_name, t in zip(model.output_names, model.outputs):
        if out_name == name:
            return {"name": name, "role": role, "shape": [1] + [int(d) for d in t.shape[1:]]}
    raise TaskConfigError(f"inference model has no output named {name!r}; it has {model.output_names}")


@dataclass
class FitResult:
    paths: RunPaths
    metrics: dict
    history: list[dict] = field(default_factory=list)


def _dataset(spec: TaskSpec, epoch: int) -> tf.data.Dataset:
    """The task's numpy batches as a tf.data pipeline (so a distribution strategy can split them)."""
    first = next(iter(spec.batches(epoch)), None)
    if first is None:
        raise TaskConfigError("the training set produced no batch; is it empty or smaller than --batch?")
    signature = tf.nest.map_structure(
        lambda a: tf.TensorSpec((None,) + np.asarray(a).shape[1:], tf.as_dtype(np.asarray(a).dtype)), first)
    ds = tf.data.Dataset.from_generator(lambda: spec.batches(epoch), output_signature=signature).prefetch(2)
    options = tf.data.Options()  # a generator has no files to shard: each worker takes its part of every batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def _float32_build(spec: TaskSpec) -> keras.Model:
    """``spec.build()`` under the float32 policy (the policy in force before is put back)."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        return spec.build()
    finally:
        keras.mixed_precision.set_global_policy(policy)


def _from_checkpoint(spec: TaskSpec, checkpoint: str) -> keras.Model:
    """Multi-worker chief: the trained model in plain float32 variables, read back from the checkpoint every
    worker just saved (reading the distributed variables would be a collective step the others never join)."""
    with tf.distribute.get_strategy().scope():
        copy = _float32_build(spec)
    tf.train.Checkpoint(model=copy).restore(checkpoint).expect_partial()
    return copy


def _float32_copy(spec: TaskSpec, model: keras.Model, mixed: bool) -> keras.Model:
    """The model to save: float32 everywhere, even when it trained under mixed precision (whose variables are
    float32 already; only the layers' compute dtype differs)."""
    if not mixed:
        return model
    clean = _float32_build(spec)
    clean.set_weights(model.get_weights())
    return clean


def _use_mixed(precision: str, gpu: bool) -> bool:
    return precision == "mixed" or (precision == "auto" and gpu)


def _as_float32(tree):
    return tf.nest.map_structure(lambda t: tf.cast(t, tf.float32) if t.dtype.is_floating else t, tree)


def _default_optimizer(spec: TaskSpec, cfg: FitConfig):
    """Adam at cfg.learning_rate, decayed by the task's ``learning_rate_schedule(base, epochs)`` when it has one."""
    schedule = getattr(spec, "learning_rate_schedule", None)
    lr = schedule(cfg.learning_rate, cfg.epochs) if schedule else cfg.learning_rate
    return keras.optimizers.Adam(lr, global_clipnorm=10.0)


def _leaves(tree, prefix: str = "") -> dict:
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: tree}


def check_resume_fields(run_json: Path, fields: dict) -> None:
    """A --resume must train the same model on the same labels: run.json's labels, input and model against what
    the task would write now; the message names every field that differs."""
    try:
        stored = json.loads(run_json.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TaskConfigError(f"--resume: cannot read {run_json} ({exc})") from exc
    asked = json.loads(json.dumps({k: fields.get(k) for k in RESUME_FIELDS}))  # tuples as JSON stores them
    had, want = _leaves({k: stored.get(k) for k in RESUME_FIELDS}), _leaves(asked)
    missing = object()
    diff = [(k, had.get(k, missing), want.get(k, missing)) for k in dict.fromkeys([*had, *want])
            if had.get(k, missing) != want.get(k, missing)]
    if diff:
        show = lambda v: "nothing" if v is missing else repr(v)  # noqa: E731
        detail = "; ".join(f"{k}: run has {show(a)}, asked {show(b)}" for k, a, b in diff)
        raise TaskConfigError(f"--resume {run_json.parent}: options differ from the interrupted run ({detail})")


def check_resume_precision(run_json: Path, mixed: bool) -> None:
    """A --resume keeps the interrupted run's precision: a mixed-precision checkpoint holds a loss-scale optimizer
    whose state a float32 run would silently drop (and the other way round)."""
    try:
        had = json.loads(run_json.read_text()).get("precision")
    except (OSError, json.JSONDecodeError) as exc:
        raise TaskConfigError(f"--resume: cannot read {run_json} ({exc})") from exc
    now = _precision_name(mixed)
    if had is not None and had != now:
        raise TaskConfigError(f"--resume {run_json.parent}: the run trained in {had}, this one would train in {now}; "
                              f"pass --precision {'mixed' if had == 'mixed_float16' else 'float32'} to continue it")


def _precision_name(mixed: bool) -> str:
    return "mixed_float16" if mixed else "float32"


def _prepare_folder(spec: TaskSpec, cfg: FitConfig, chief: bool, mixed: bool = False) -> RunPaths:
    paths = RunPaths(Path(cfg.out).resolve())
    if not chief:  # multi-worker: the chief checks and owns the folder; this worker writes nowhere in it
        return paths
    if cfg.resume:
        if not tf.train.latest_checkpoint(str(paths.checkpoints)):
            raise TaskConfigError(f"--resume: {paths.checkpoints} holds no checkpoint to continue from")
        if paths.run_json.is_file():
            check_resume_fields(paths.run_json, spec.run_fields())
            check_resume_precision(paths.run_json, mixed)
    elif paths.root.exists() and any(paths.root.iterdir()):
        raise TaskConfigError(f"--out {paths.root} already holds a run; pass --resume to continue it "
                              "or choose another folder")
    paths.checkpoints.mkdir(parents=True, exist_ok=True)
    return paths


def fit(spec: TaskSpec, cfg: FitConfig, on_epoch: Callable[[dict], None] | None = None) -> FitResult:
    """Train ``spec`` for cfg.epochs, one checkpoint per epoch, and write the run folder.

    Mixed precision (cfg.precision): the model trains under the mixed_float16 policy with a LossScaleOptimizer,
    its losses in float32; model.keras and the best weights are a float32 build of the same task.
    Under multi-worker training only the chief writes the run folder (train/distribute.py); the others
    return a FitResult with the final metrics left empty.
    """
    cfg.validate()
    dist = pick_distribution(cfg.strategy)  # first: multi-worker must start before TensorFlow runs anything
    strategy, chief = dist.strategy, dist.is_chief
    mixed = _use_mixed(cfg.precision, dist.mixed_precision)
    log.info("strategy %s: %d replica(s), chief %s%s", dist.kind, strategy.num_replicas_in_sync, chief,
             ", mixed precision" if mixed else "")
    paths = _prepare_folder(spec, cfg, chief, mixed)
    keras.utils.set_random_seed(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    folder = None
    try:
        with strategy.scope():
            model = spec.build()
            if cfg.weights and not cfg.resume:
                log.info("%s", load_initial_weights(model, cfg.weights, cfg.width))
            for layer in model.layers:  # short runs: BN statistics must follow the weights (backbone uses 0.999)
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.momentum = min(float(layer.momentum), cfg.bn_momentum)
            make_optimizer = getattr(spec, "optimizer", None)
            optimizer = make_optimizer(cfg) if make_optimizer else _default_optimizer(spec, cfg)
            if mixed:
                optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
            epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            average = WeightAverage(model, cfg.ema) if cfg.ema else None
            parts = {"ema": average} if average is not None else {}
            ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var, **parts)
        folder = CheckpointFolder(paths.checkpoints, chief)
        return _fit(spec, cfg, dist, mixed, paths, model, optimizer, epoch_var, ckpt, folder, on_epoch, average)
    finally:
        if folder is not None:
            folder.cleanup()
        keras.mixed_precision.set_global_policy("float32")


def _fit(spec, cfg, dist, mixed, paths, model, optimizer, epoch_var, ckpt, folder, on_epoch,
         average: WeightAverage | None = None) -> FitResult:
    strategy, chief = dist.strategy, dist.is_chief
    manager = tf.train.CheckpointManager(ckpt, str(folder.path), max_to_keep=3)
    created = None
    headline = headline_metric(spec.task)
    best = BestEpoch(headline, cfg.patience)
    keeper = BestWeights(paths.checkpoints / "best", chief)
    progress = Progress(cfg.show_progress and chief)
    if cfg.resume:  # every worker restores the chief's checkpoint (a folder they all see)
        latest = tf.train.latest_checkpoint(str(paths.checkpoints))
        if latest is None:
            raise TaskConfigError(f"--resume: {paths.checkpoints} holds no checkpoint to continue from")
        ckpt.restore(latest).expect_partial()
        if chief:
            truncate_history(paths, int(epoch_var.numpy()))
            best = BestEpoch.resumed(headline, cfg.patience, read_history(paths))
            if paths.run_json.is_file():
                created = json.loads(paths.run_json.read_text()).get("created")
        log.info("resumed %s after epoch %d", latest, int(epoch_var.numpy()))
    created = created or utc_now()
    replicas = strategy.num_replicas_in_sync
    steps = getattr(spec, "steps_per_epoch", None)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            out = _as_float32(model(x, training=True))  # mixed precision: the losses are computed in float32
            parts = spec.loss(y, out, model)
            total = parts["loss"]
            if model.losses:  # the layers' regularisation losses
                total = total + tf.add_n([tf.cast(r, tf.float32) for r in model.losses])
            # each replica's loss is a mean over its slice; gradients are summed over the replicas.
            scaled = total / replicas  # inside the tape, or the gradient is None
            if mixed:
                scaled = optimizer.get_scaled_loss(scaled)
        grads = tape.gradient(scaled, model.trainable_variables)
        if mixed:
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
        return parts

    def make_step():  # traced anew when the trainable set changes (freeze, then unfreeze)
        @tf.function(reduce_retracing=True)
        def step(x, y):
            parts = strategy.run(replica_step, args=(x, y))
            return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in parts.items()}
        return step

    distributed: list = [None, None]  # (the task's tf.data dataset, its distributed form), made once

    def epoch_batches(epoch: int):
        source = spec.batches(epoch)
        if isinstance(source, tf.data.Dataset):  # global batches: the strategy splits them over the replicas
            if distributed[0] is not source:
                distributed[:] = [source, strategy.experimental_distribute_dataset(source)]
            source = distributed[1]
        elif replicas > 1:  # plain numpy on one replica: reader errors surface unwrapped
            source = strategy.experimental_distribute_dataset(_dataset(spec, epoch))
        # exactly `steps` steps on every worker when the task says how many, so the collectives stay in step
        return islice(iter(source), steps) if steps else source

    phases = train_phases(model, optimizer, strategy, cfg.freeze_epochs, make_step)
    metrics: dict = {}
    stopped_early, last_epoch = False, int(epoch_var.numpy())
    for epoch in range(int(epoch_var.numpy()), cfg.epochs):
        if best.should_stop:
            stopped_early = True
            break
        step = phases.step_for(epoch + 1)
        t0 = time.time()
        sums: dict[str, float] = {}
        n = 0
        for x, y in progress.bar(epoch_batches(epoch), epoch + 1, cfg.epochs, total=steps):
            for k, v in step(x, y).items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if average is not None:
                average.update()
            n += 1
            progress.postfix(**{k: v / n for k, v in sums.items()})
        train_s = time.time() - t0
        last_epoch = epoch + 1
        epoch_var.assign(epoch + 1)
        manager.save(checkpoint_number=epoch + 1)  # collective under multi-worker: every worker saves
        if not chief:
            continue
        scored = _from_checkpoint(spec, manager.latest_checkpoint) if dist.multiworker else model
        with (average.applied(scored) if average is not None else nullcontext(scored)):
            metrics = {k: round(float(v), 5) for k, v in spec.evaluate(scored).items()}
            improved = best.update(epoch + 1, metrics)
            if improved:
                keeper.save(scored)
        row = {"epoch": epoch + 1, **{k: v / max(n, 1) for k, v in sums.items()},
               **{f"val_{k}": v for k, v in metrics.items()}, "train_seconds": round(train_s, 2),
               "seconds": round(time.time() - t0, 2)}
        append_history(paths, row)
        write_json_atomic(paths.run_json, _run_json(cfg, spec, best, metrics, created, epoch + 1, False,
                                                         mixed))
        log.debug("epoch %d: %s", epoch + 1, json.dumps(row))
        shown = shown_metrics(metrics, len(spec.run_fields()["labels"]) or None)
        progress.line(epoch_line(epoch + 1, cfg.epochs, row.get("loss", float("nan")), shown, row["seconds"],
                                 improved, best.metric if best.value is not None else None))
        if on_epoch:
            on_epoch(row)
    if not chief:
        return FitResult(paths, {}, [])
    final = (_from_checkpoint(spec, tf.train.latest_checkpoint(str(paths.checkpoints))) if dist.multiworker
             else _float32_copy(spec, model, mixed))
    if average is not None:
        average.copy_to(final)  # the last epoch's average, unless a best epoch was kept below
    keeper.restore_into(final)  # model.keras is the best epoch's model; checkpoints/ keeps the last
    keras.mixed_precision.set_global_policy("float32")  # the inference model's own layers too
    if not best.epoch:  # resumed a finished run with no history: score what is there
        metrics = {k: round(float(v), 5) for k, v in spec.evaluate(final).items()}
        best.update(last_epoch, metrics)
    spec.inference_model(final).save(paths.model)
    write_json_atomic(paths.run_json, _run_json(cfg, spec, best, metrics or best.history, created,
                                                max(last_epoch, best.epoch), stopped_early, mixed))
    if stopped_early:
        progress.line(f"stopped early after epoch {last_epoch}: no better {best.metric} for {cfg.patience} "
                      f"epoch(s); keeping epoch {best.epoch} ({best.metric} {best.value:.4f})")
    return FitResult(paths, best.history, read_history(paths))


def _run_json(cfg, spec, best: BestEpoch, last_metrics: dict, created, last_epoch: int, stopped: bool,
              mixed: bool) -> dict:
    """run.json: ``metrics`` are the saved (best) epoch's, ``metrics_last`` the last epoch's, ``best`` says which;
    ``precision`` is what the run trained in (model.keras is float32 either way)."""
    run = build_run_json(name=cfg.name, task=spec.task, fields=spec.run_fields(), metrics=best.history,
                         created=created)
    run["metrics_last"] = last_metrics
    run["precision"] = _precision_name(mixed)
    if cfg.ema:
        run["ema"] = float(cfg.ema)  # validation and model.keras used the weight average (train/ema.py)
    run["best"] = best.to_json(last_epoch, stopped)
    return run


def batch_indices(count: int, batch_size: int, seed: int, epoch: int, drop_last: bool = True) -> list[np.ndarray]:
    """Deterministic shuffled index batches for one epoch."""
    order = np.random.default_rng([seed, epoch]).permutation(count)
    stop = count - count % batch_size if drop_last and count >= batch_size else count
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]
