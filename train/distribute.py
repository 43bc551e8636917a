"""Which tf.distribute strategy trains, and which worker owns the run folder.

``--strategy`` picks one explicitly (``auto`` is the default):

- ``auto``: multi-worker when TF_CONFIG is set, mirrored on several GPUs, else the default strategy.
- ``default``: one device, no distribution.
- ``mirrored``: every local GPU, or, with no GPU, every logical CPU device (see below).
- ``multiworker``: MultiWorkerMirroredStrategy; needs TF_CONFIG (``{"cluster": ..., "task": ...}``).

``EDGEVISION_LOGICAL_CPUS=N`` (N >= 2) splits the host CPU into N logical devices before TensorFlow starts,
so ``mirrored`` can be tried on a machine without GPUs (the tests do this). It changes nothing else.

Under multi-worker training only the chief (task type "chief", or worker 0 when the cluster has no chief)
writes the run folder; the other workers still take part in every collective step (checkpoint saves, weight
reads) but save into a temporary folder that they delete at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
LOGICAL_CPUS_ENV = "EDGEVISION_LOGICAL_CPUS"


class StrategyError(ValueError):
    """The asked-for strategy cannot run here; the message says why."""


@dataclass
class Distribution:
    strategy: tf.distribute.Strategy
    kind: str  # "default", "mirrored" or "multiworker"
    mixed_precision: bool  # GPU present
    is_chief: bool = True

    @property
    def multiworker(self) -> bool:
        return self.kind == "multiworker"


def _split_cpu() -> None:
    raw = os.environ.get(LOGICAL_CPUS_ENV, "").strip()
    if not raw:
        return
    try:
        count = int(raw)
    except ValueError:
        raise StrategyError(f"{LOGICAL_CPUS_ENV}={raw!r}: expected a whole number of logical CPU devices") from None
    if count < 1:
        raise StrategyError(f"{LOGICAL_CPUS_ENV}={raw!r}: expected at least 1")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as exc:
        raise StrategyError(f"{LOGICAL_CPUS_ENV}={count}: TensorFlow was already initialised in this process "
                            f"({exc}); set it before training starts") from None


def chief_of(tf_config: dict) -> bool:
    """Whether the TF_CONFIG task is the chief: type "chief", or worker 0 when the cluster names no chief."""
    task = tf_config.get("task", {})
    kind, index = task.get("type"), int(task.get("index", 0))
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in tf_config.get("cluster", {})


def is_chief_process(name: str = "auto") -> bool:
    """Whether this process owns the run folder (and prints) under strategy ``name``; False only on the
    non-chief workers of a multi-worker run."""
    if name == "multiworker" or (name == "auto" and os.environ.get("TF_CONFIG")):
        return chief_of(_tf_config())
    return True


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        raise StrategyError("--strategy multiworker needs TF_CONFIG (cluster and task) in the environment")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or "cluster" not in config or "type" not in config.get("task", {}):
        raise StrategyError(f"TF_CONFIG {raw!r}: expected {{\"cluster\": {{...}}, \"task\": {{\"type\": ..., "
                            f"\"index\": ...}}}}")
    return config


def pick_distribution(name: str = "auto") -> Distribution:
    """Create the strategy asked for. Call it before TensorFlow runs anything else (multi-worker needs that)."""
    if name not in STRATEGIES:
        raise StrategyError(f"--strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    _split_cpu()
    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        name = "multiworker" if os.environ.get("TF_CONFIG") else "mirrored" if len(gpus) > 1 else "default"
    if name == "multiworker":
        chief = chief_of(_tf_config())
        return Distribution(tf.distribute.MultiWorkerMirroredStrategy(), name, bool(gpus), chief)
    if name == "mirrored":
        devices = None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
        return Distribution(tf.distribute.MirroredStrategy(devices=devices), name, bool(gpus))
    return Distribution(tf.distribute.get_strategy(), "default", bool(gpus))


class CheckpointFolder:
    """The folder this worker saves checkpoints into: the run's own on the chief, a temporary one elsewhere."""

    def __init__(self, real: Path, is_chief: bool):
        self.real, self.is_chief = Path(real), is_chief
        self.path = self.real if is_chief else Path(tempfile.mkdtemp(prefix="edgevision-worker-ckpt-"))

    def cleanup(self) -> None:
        if not self.is_chief:
            shutil.rmtree(self.path, ignore_errors=True)
