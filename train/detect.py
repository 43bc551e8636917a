"""Train the detector: distribution strategy, mixed precision on GPU, per-epoch checkpoints and mAP."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras
from .datasets import LoadedData
from .distribute import CheckpointFolder, pick_distribution
from .epochs import BestEpoch, Progress, check_epoch_options, epoch_line, headline_metric
from .evaluate import evaluate
from .loss import LossConfig, detection_loss
from .model import DetectorConfig, build_detector
from .pipeline import AugmentConfig, make_dataset
from .run_folder import (RunPaths, append_history, build_run_json, read_history, read_run_json, truncate_history,
                         write_json_atomic)
from .transfer import BestWeights, load_initial_weights, train_phases

log = logging.getLogger("train.detect")


class TrainConfigError(ValueError):
    """A training option conflicts with the run folder or with another option."""


@dataclass
class TrainConfig:
    out: Path
    epochs: int = 16
    batch: int = 16
    input_size: int = 192
    width: float = 0.35
    lr: float = 8e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    seed: int = 0
    resume: bool = False
    weights: str | None = None
    allow_small_input: bool = False  # tests only: inputs below 192
    show_progress: bool = True  # a bar on a terminal (train/epochs.py::Progress); one line per epoch always
    patience: int = 0  # stop after this many epochs without a better val mAP@0.5 (0: never)
    freeze_epochs: int = 0  # with --weights: train only the neck and head for this many epochs first
    strategy: str = "auto"  # train/distribute.py: auto, default, mirrored or multiworker
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)


def _check_resume(paths: RunPaths, cfg: TrainConfig, labels) -> None:
    run = read_run_json(paths.root)
    stored = {"input_size": run["model"].get("input_size"), "width": run["model"].get("width_multiplier"),
              "labels": run["labels"]}
    asked = {"input_size": cfg.input_size, "width": cfg.width, "labels": list(labels)}
    diff = {k: (stored[k], asked[k]) for k in stored if stored[k] != asked[k]}
    if diff:
        detail = "; ".join(f"{k}: run has {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        raise TrainConfigError(f"--resume {paths.root}: options differ from the interrupted run ({detail})")


def _prepare_folder(cfg: TrainConfig, labels, is_chief: bool = True) -> RunPaths:
    paths = RunPaths(Path(cfg.out).resolve())
    if not is_chief:  # multi-worker: the chief checks and owns the folder; this worker writes nowhere in it
        return paths
    if cfg.resume:
        if not paths.checkpoints.is_dir() or not tf.train.latest_checkpoint(str(paths.checkpoints)):
            raise TrainConfigError(f"--resume: {paths.checkpoints} holds no checkpoint to continue from")
        _check_resume(paths, cfg, labels)
    elif paths.root.exists() and any(paths.root.iterdir()):
        raise TrainConfigError(f"--out {paths.root} already holds a run; pass --resume to continue it "
                               f"or choose another folder")
    paths.checkpoints.mkdir(parents=True, exist_ok=True)
    return paths


def _float32_copy(model, config: DetectorConfig, allow_small: bool):
    """The model to save: float32 everywhere, even when it trained under mixed precision."""
    if keras.mixed_precision.global_policy().name == "float32":
        return model
    keras.mixed_precision.set_global_policy("float32")
    clean = build_detector(config, allow_small=allow_small)
    clean.set_weights(model.get_weights())
    return clean


def _from_checkpoint(config: DetectorConfig, cfg: TrainConfig, checkpoint: str):
    """Multi-worker chief: a plain float32 model read back from the checkpoint every worker just saved.
    Reading the distributed variables directly would be a collective step the other workers never join."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    with tf.distribute.get_strategy().scope():
        clean = build_detector(config, allow_small=cfg.allow_small_input)
    keras.mixed_precision.set_global_policy(policy)
    tf.train.Checkpoint(model=clean).restore(checkpoint).expect_partial()
    return clean


def train_detector(cfg: TrainConfig, data: LoadedData) -> dict:
    """Train (or resume) into ``cfg.out``; returns the final run.json dict (every worker returns it)."""
    if cfg.epochs < 1 or cfg.batch < 1:
        raise TrainConfigError(f"--epochs {cfg.epochs} and --batch {cfg.batch} must be at least 1")
    check_epoch_options(cfg.epochs, cfg.patience, cfg.freeze_epochs, cfg.weights, cfg.strategy == "multiworker")
    dist = pick_distribution(cfg.strategy)  # first: multi-worker must start before TensorFlow runs anything
    strategy, mixed, chief = dist.strategy, dist.mixed_precision, dist.is_chief
    log.info("strategy %s: %d replica(s), chief %s", dist.kind, strategy.num_replicas_in_sync, chief)
    labels = data.labels
    model_cfg = DetectorConfig(num_classes=len(labels), input_size=cfg.input_size, width=cfg.width)
    model_cfg.validate(allow_small=cfg.allow_small_input)
    paths = _prepare_folder(cfg, labels, chief)
    tf.random.set_seed(cfg.seed)
    np.random.seed(cfg.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    steps = len(data.train.records) // cfg.batch  # --batch is the global batch, split over the replicas
    if steps < 1:
        raise TrainConfigError(f"--batch {cfg.batch} is larger than the {len(data.train.records)} training images")
    with strategy.scope():
        model = build_detector(model_cfg, allow_small=cfg.allow_small_input)
        if cfg.weights and not cfg.resume:
            log.info("%s", load_initial_weights(model, cfg.weights, cfg.width))
        schedule = keras.optimizers.schedules.CosineDecay(
            cfg.lr * 0.05, decay_steps=max(1, steps * cfg.epochs - int(steps * cfg.warmup_epochs)),
            alpha=0.02, warmup_target=cfg.lr, warmup_steps=int(steps * cfg.warmup_epochs))
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, global_clipnorm=10.0)
        if mixed:
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var)
    folder = CheckpointFolder(paths.checkpoints, chief)
    try:
        return _train(cfg, data, dist, model_cfg, paths, model, optimizer, epoch_var, ckpt, folder, steps)
    finally:
        folder.cleanup()


def _train(cfg, data, dist, model_cfg, paths, model, optimizer, epoch_var, ckpt, folder, steps) -> dict:
    strategy, mixed, chief, labels = dist.strategy, dist.mixed_precision, dist.is_chief, data.labels
    progress = Progress(cfg.show_progress and chief)
    manager = tf.train.CheckpointManager(ckpt, str(folder.path), max_to_keep=3)
    if cfg.resume:  # every worker restores the chief's checkpoint (a folder they all see)
        latest = tf.train.latest_checkpoint(str(paths.checkpoints))
        if latest is None:
            raise TrainConfigError(f"--resume: {paths.checkpoints} holds no checkpoint to continue from")
        ckpt.restore(latest).expect_partial()
        log.info("resumed %s after epoch %d", latest, int(epoch_var.numpy()))
        if chief:
            truncate_history(paths, int(epoch_var.numpy()))
    run = build_run_json(name=paths.root.name, labels=labels, model_json=model_cfg.to_json(),
                         num_anchors=model_cfg.num_anchors(), data=data.info)
    run["augment"] = asdict(cfg.augment)  # what the training images went through (flips, crops, colour)
    headline = headline_metric("detect")
    best = BestEpoch(headline, cfg.patience)
    if cfg.resume and chief:
        previous = read_run_json(paths.root)
        run["created"] = previous.get("created", run["created"])
        run["metrics"] = previous.get("metrics", {})
        best = BestEpoch.resumed(headline, cfg.patience, read_history(paths))
    keeper = BestWeights(paths.checkpoints / "best", chief)
    if chief:
        write_json_atomic(paths.run_json, run)

    train_ds = strategy.experimental_distribute_dataset(
        make_dataset(data.train.records, model_cfg, cfg.batch, True, cfg.augment, cfg.seed))
    num_classes, replicas = len(labels), strategy.num_replicas_in_sync

    def step(images, targets):
        with tf.GradientTape() as tape:
            pred = model(images, training=True)
            total, cls_loss, box_loss = detection_loss(pred, targets, num_classes, cfg.loss)
            # each replica's loss is a mean over its own slice; the gradients are summed over replicas
            scaled = total / replicas
            if mixed:
                scaled = optimizer.get_scaled_loss(scaled)
        grads = tape.gradient(scaled, model.trainable_variables)
        if mixed:
            grads = optimizer.get_unscaled_gradients(grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return total, cls_loss, box_loss

    def make_train_step():  # traced anew when the trainable set changes (freeze, then unfreeze)
        @tf.function
        def train_step(images, targets):
            out = strategy.run(step, args=(images, targets))
            return [strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for v in out]
        return train_step

    start_epoch = int(epoch_var.numpy()) + 1
    phases = train_phases(model, optimizer, strategy, cfg.freeze_epochs, make_train_step)
    stopped_early, last_epoch = False, start_epoch - 1
    for epoch in range(start_epoch, cfg.epochs + 1):
        if best.should_stop:
            stopped_early = True
            break
        train_step = phases.step_for(epoch)
        t0 = time.time()
        sums = np.zeros(3)
        batches = iter(train_ds)  # exactly `steps` steps on every worker, so the collectives stay in step
        for n in progress.bar(range(1, steps + 1), epoch, cfg.epochs, total=steps):
            images, targets = next(batches)
            sums += [float(v) for v in train_step(images, targets)]
            progress.postfix(loss=sums[0] / n, cls=sums[1] / n, box=sums[2] / n)
        train_s = time.time() - t0
        last_epoch = epoch
        epoch_var.assign(epoch)
        manager.save(checkpoint_number=epoch)  # collective under multi-worker: every worker saves
        if not chief:
            continue
        scored = _from_checkpoint(model_cfg, cfg, manager.latest_checkpoint) if dist.multiworker else model
        result = evaluate(scored, data.val.records, model_cfg.input_size)
        metrics = {"map50": round(result.map50, 4), "map50_95": round(result.map50_95, 4)}
        row = {"epoch": epoch, "loss": sums[0] / steps, "cls_loss": sums[1] / steps,
               "box_loss": sums[2] / steps, "val_map50": metrics["map50"], "val_map50_95": metrics["map50_95"],
               "train_seconds": round(train_s, 2), "seconds": round(time.time() - t0, 2)}
        append_history(paths, row)
        improved = best.update(epoch, metrics)
        if improved:
            keeper.save(scored)
        run["metrics"], run["metrics_last"] = best.history, metrics
        run["best"] = best.to_json(epoch, False)
        write_json_atomic(paths.run_json, run)
        log.debug("epoch %d: %s", epoch, json.dumps(row))
        progress.line(epoch_line(epoch, cfg.epochs, row["loss"], metrics, row["seconds"], improved, headline))
    if chief:
        final = (_from_checkpoint(model_cfg, cfg, tf.train.latest_checkpoint(str(paths.checkpoints)))
                 if dist.multiworker else _float32_copy(model, model_cfg, cfg.allow_small_input))
        keeper.restore_into(final)  # model.keras is the best epoch's model; checkpoints/ keeps the last
        final.save(paths.model)
        if best.epoch:
            run["best"] = best.to_json(max(last_epoch, best.epoch), stopped_early)
            if stopped_early:
                progress.line(f"stopped early after epoch {last_epoch}: no better {headline} for "
                              f"{cfg.patience} epoch(s); keeping epoch {best.epoch} ({headline} {best.value:.4f})")
        write_json_atomic(paths.run_json, run)
    return run
