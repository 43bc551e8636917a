"""What the training loop (train/task_fit.py) does around an epoch, kept apart from it:
the best-epoch choice and early stopping, the freeze-then-unfreeze schedule, and the progress output.

Kept free of TensorFlow at import time (the device check runs before TensorFlow loads).
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field


def headline_metric(task: str) -> str | None:
    """The validation metric a task's best epoch is chosen by (its registry entry's headline, higher is better).
    A run that does not measure it (an unpaired enhancement run has no reference images, so no PSNR) keeps its
    last epoch as the best."""
    from .tasks import get

    metric = get(task).headline()
    return metric.key if metric else None

# Layer names of the MobileNetV2 backbone (train/model.py::backbone, named as keras.applications names them).
_BACKBONE_LAYER = re.compile(r"^(Conv1|bn_Conv1|Conv1_relu|expanded_conv_\w+|block_\d+_\w+)$")


def is_backbone_layer(name: str) -> bool:
    return bool(_BACKBONE_LAYER.match(name))


class EpochOptionError(ValueError):
    """--patience or --freeze-epochs is out of range or conflicts with another option."""


@dataclass
class BestEpoch:
    """Tracks the best epoch by one metric (higher is better) and says when to stop early.

    ``patience`` 0 never stops early; N stops once N epochs in a row brought no improvement.
    """

    metric: str | None
    patience: int = 0
    epoch: int = 0
    value: float | None = None
    stale: int = 0
    history: dict = field(default_factory=dict)  # the best epoch's metrics

    def __post_init__(self):
        if int(self.patience) < 0:
            raise EpochOptionError(f"--patience {self.patience}: expected 0 (never stop early) or more epochs")

    def update(self, epoch: int, metrics: dict) -> bool:
        """Record one epoch's validation metrics; True when this epoch is the new best."""
        value = metrics.get(self.metric) if self.metric else None
        if value is None or not math.isfinite(float(value)):
            improved = self.metric is None or self.metric not in metrics  # no headline: the last epoch is kept
        else:
            improved = self.value is None or float(value) > self.value
        if improved:
            self.epoch, self.stale, self.history = int(epoch), 0, dict(metrics)
            self.value = None if value is None else float(value)
        else:
            self.stale += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.stale >= self.patience

    def to_json(self, last_epoch: int, stopped_early: bool) -> dict:
        return {"epoch": self.epoch, "metric": self.metric if self.value is not None else None,
                "value": self.value, "last_epoch": int(last_epoch),
                "patience": int(self.patience), "stopped_early": bool(stopped_early)}

    @classmethod
    def resumed(cls, metric: str | None, patience: int, history_rows: list[dict]) -> "BestEpoch":
        """The tracker as it stood after the checkpointed epochs (replayed from history.jsonl)."""
        best = cls(metric, patience)
        for row in history_rows:
            best.update(int(row["epoch"]), {k[4:]: v for k, v in row.items() if k.startswith("val_")})
        return best


def check_epoch_options(epochs: int, patience: int, freeze_epochs: int, weights, multiworker: bool) -> None:
    if int(patience) < 0:
        raise EpochOptionError(f"--patience {patience}: expected 0 (never stop early) or a number of epochs")
    if int(freeze_epochs) < 0:
        raise EpochOptionError(f"--freeze-epochs {freeze_epochs}: expected 0 or more epochs")
    if freeze_epochs and not weights:
        raise EpochOptionError(f"--freeze-epochs {freeze_epochs} needs --weights: freezing an untrained "
                               "backbone would train the head on random features")
    if freeze_epochs >= epochs:
        raise EpochOptionError(f"--freeze-epochs {freeze_epochs} must be smaller than --epochs {epochs} "
                               "(the backbone is trained after the frozen epochs)")
    if patience and multiworker:
        raise EpochOptionError("--patience is not supported under multi-worker training (only the chief "
                               "scores the epochs); leave it out or train on one machine")


def set_backbone_trainable(model, trainable: bool) -> int:
    """Freeze or unfreeze the backbone's layers (searching nested models); returns how many layers changed."""
    changed = 0
    for layer in _flat_layers(model):
        if is_backbone_layer(layer.name) and layer.weights and layer.trainable != trainable:
            layer.trainable = trainable
            changed += 1
    return changed


def _flat_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _flat_layers(layer)


class Progress:
    """A tqdm bar per epoch on a terminal; otherwise nothing but the one line per epoch.

    ``enabled`` False (--no-progress) drops the bar on a terminal too. The per-epoch line is printed in
    both cases, once, to stdout.
    """

    def __init__(self, enabled: bool = True, stream=None, out=None):
        self.stream = stream if stream is not None else sys.stderr
        self.out = out if out is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.bar_on = bool(enabled and isatty and isatty())
        self._bar = None

    def bar(self, iterable, epoch: int, epochs: int, total: int | None = None):
        if not self.bar_on:
            return iterable
        from tqdm import tqdm

        self._bar = tqdm(iterable, desc=f"epoch {epoch}/{epochs}", total=total, file=self.stream,
                         dynamic_ncols=True, leave=False)
        return self._bar

    def postfix(self, **values) -> None:
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()}, refresh=False)

    def line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        print(text, file=self.out, flush=True)


def epoch_line(epoch: int, epochs: int, loss: float, metrics: dict, seconds: float, best: bool,
               headline: str | None) -> str:
    """``epoch 3/10: loss 0.412  val top1 0.8125 (best)  12 s``: the loss, the headline first, then the rest."""
    names = sorted(metrics, key=lambda k: (k != headline, k))
    shown = "  ".join(f"{k} {metrics[k]:.4f}" for k in names[:4])
    mark = " (best)" if best and headline else ""
    return f"epoch {epoch}/{epochs}: loss {loss:.4f}  val {shown}{mark}  {seconds:.0f} s"


def shown_metrics(metrics: dict, num_labels: int | None) -> dict:
    """The metrics worth printing: top-5 only when there are more than 5 classes (else it is 100 % by rule)."""
    if num_labels is not None and num_labels <= 5:
        return {k: v for k, v in metrics.items() if k != "top5"}
    return dict(metrics)
