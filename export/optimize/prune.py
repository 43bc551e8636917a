"""Magnitude pruning to a target sparsity (polynomial schedule) and 2:4 structured sparsity.

The user's model is cloned first; the clone is wrapped, fine-tuned by distillation, stripped, measured, and
returned with its output names unchanged. A schedule that never prunes within the fine-tune steps, or a
result below the target, is an error: a silently dense "pruned" model is the failure this module prevents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .common import FineTune, OptimizeError, clone, clone_with, distill, keep_output_names, teacher_targets
from .sparsity import SparsityReport, keras_sparsity, m_by_n_violations

PRUNABLE = ("Conv2D", "Dense")  # tfmot does not prune DepthwiseConv2D kernels
TOLERANCE = 0.01  # achieved sparsity may fall this far below the target (rounding of the mask per layer)
MAX_LAYER_SPARSITY = 0.9  # a layer that must lose more than this to make up for the dense ones is refused


@dataclass(frozen=True)
class PruneConfig:
    target_sparsity: float = 0.5
    frequency: int = 10  # update the masks every this many fine-tune steps
    begin_step: int = 0
    initial_sparsity: float = 0.0
    m_by_n: tuple[int, int] | None = None  # (2, 4): two zeros in every four input-channel weights
    ramp: float = 1.0  # sparsity ramps up over this fraction of the steps after begin_step, then holds (recovery)
    tune: FineTune = field(default_factory=FineTune)
    # Conv2D/Dense layers kept dense: the named ones, and the smallest ones holding together at most dense_share of
    # all Conv2D/Dense kernel weights (first conv, narrow projections, output convs: few weights, much accuracy).
    # The target still holds over ALL Conv2D/Dense kernel weights: the pruned layers take a higher sparsity each.
    skip: tuple[str, ...] = ()
    dense_share: float = 0.0

    def validate(self) -> "PruneConfig":
        self.tune.validate()
        if self.m_by_n is None and not 0.0 < float(self.target_sparsity) < 1.0:
            raise OptimizeError(f"target sparsity {self.target_sparsity!r} must lie strictly between 0 and 1")
        if not 0.0 <= float(self.initial_sparsity) < float(self.target_sparsity if self.m_by_n is None else 1):
            raise OptimizeError(f"initial sparsity {self.initial_sparsity!r} must lie in [0, target sparsity)")
        if not isinstance(self.frequency, int) or self.frequency < 1:
            raise OptimizeError(f"pruning frequency {self.frequency!r} must be a positive integer (steps)")
        if not 0.0 < float(self.ramp) <= 1.0:
            raise OptimizeError(f"pruning ramp {self.ramp!r} must lie in (0, 1] (fraction of the fine-tune steps)")
        if not isinstance(self.begin_step, int) or self.begin_step < 0:
            raise OptimizeError(f"pruning begin step {self.begin_step!r} must be a non-negative integer")
        if not 0.0 <= float(self.dense_share) < 1.0:
            raise OptimizeError(f"pruning dense_share {self.dense_share!r} must lie in [0, 1) (share of the weights)")
        if self.m_by_n is not None:
            m, n = self.m_by_n
            if not 0 < m < n:
                raise OptimizeError(f"m-by-n sparsity {self.m_by_n!r} needs 0 < m < n, e.g. (2, 4)")
        return self

    @property
    def expected_sparsity(self) -> float:
        return self.m_by_n[0] / self.m_by_n[1] if self.m_by_n else float(self.target_sparsity)


@dataclass
class PruneResult:
    model: object  # stripped tf_keras model, outputs named as the original's
    pruned_layers: tuple[str, ...]
    report: SparsityReport
    achieved: float  # sparsity over all Conv2D/Dense kernels (pruned and kept dense)
    firing_steps: tuple[int, ...]


def _kernel_size(layer) -> int:
    return int(np.prod(layer.get_weights()[0].shape)) if layer.get_weights() else 0


def layer_targets(model, cfg: PruneConfig) -> dict[str, float]:
    """Sparsity per Conv2D/Dense layer to prune, so that ALL Conv2D/Dense kernel weights reach the target together.

    Layers named in ``cfg.skip``, and the smallest layers while their sizes add up to at most ``cfg.dense_share``
    of the total, stay dense (absent from the result); the rest share the zeros the target asks for (one sparsity
    for all of them).
    """
    sizes = {layer.name: _kernel_size(layer) for layer in model.layers if type(layer).__name__ in PRUNABLE}
    small, budget = set(), float(cfg.dense_share) * sum(sizes.values())
    for name, n in sorted(sizes.items(), key=lambda item: item[1]):
        if n > budget:
            break
        small.add(name)
        budget -= n
    unknown = sorted(set(cfg.skip) - set(sizes))
    if unknown:
        raise OptimizeError(f"pruning skip names {unknown}, which are not Conv2D/Dense layers of model "
                            f"{model.name!r}; its prunable layers: {sorted(sizes)}")
    chosen = {name: n for name, n in sizes.items() if name not in cfg.skip and name not in small}
    if not chosen:
        raise OptimizeError(f"model {model.name!r} has no Conv2D or Dense layer to prune (skip {list(cfg.skip)}, "
                            f"dense_share {cfg.dense_share})")
    if cfg.m_by_n is not None:
        return {name: cfg.expected_sparsity for name in chosen}
    per_layer = float(cfg.target_sparsity) * sum(sizes.values()) / sum(chosen.values())
    if per_layer > MAX_LAYER_SPARSITY:
        raise OptimizeError(
            f"overall sparsity {cfg.target_sparsity} with {len(sizes) - len(chosen)} layers kept dense needs "
            f"{per_layer:.3f} in the pruned ones (more than {MAX_LAYER_SPARSITY}); skip fewer layers or lower "
            f"dense_share")
    return {name: per_layer for name in chosen}


def make_schedule(cfg: PruneConfig, target: float | None = None):
    """The tfmot schedule for ``cfg`` (ending at ``target``, default the config's); it fires within the steps."""
    import tensorflow_model_optimization as tfmot

    target = float(cfg.target_sparsity if target is None else target)

    steps = cfg.tune.steps
    ramp_end = cfg.begin_step + int(round(cfg.ramp * (steps - 1 - cfg.begin_step)))
    last = cfg.begin_step + ((ramp_end - cfg.begin_step) // cfg.frequency) * cfg.frequency
    if cfg.m_by_n is not None:
        return tfmot.sparsity.keras.ConstantSparsity(0.5, cfg.begin_step, frequency=cfg.frequency)
    if last <= cfg.begin_step:
        raise OptimizeError(
            f"pruning schedule never fires: frequency {cfg.frequency} from begin step {cfg.begin_step} has no mask "
            f"update after step {cfg.begin_step} within the {steps} fine-tune steps (the ramp {cfg.ramp} ends at step "
            f"{ramp_end}); use a frequency of at most {max(1, ramp_end - cfg.begin_step)}, a longer ramp or more steps")
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=float(cfg.initial_sparsity), final_sparsity=target,
        begin_step=cfg.begin_step, end_step=last, frequency=cfg.frequency)


def firing_steps(schedule, steps: int) -> list[tuple[int, float]]:
    """(step, sparsity) for every step in 0..steps-1 at which ``schedule`` updates the masks."""
    fired = []
    for step in range(steps):
        should, sparsity = schedule(np.int64(step))
        if bool(should):
            fired.append((step, float(sparsity)))
    return fired


def check_schedule(schedule, steps: int, target: float) -> list[int]:
    """Raise unless ``schedule`` updates the masks within ``steps`` and its last update reaches ``target``."""
    fired = firing_steps(schedule, steps)
    if not fired:
        raise OptimizeError(
            f"pruning schedule {schedule.get_config()} never fires within the {steps} fine-tune steps; "
            "the model would stay dense")
    last_step, last_sparsity = fired[-1]
    if last_sparsity < target - 1e-6:
        raise OptimizeError(
            f"pruning schedule's last update (step {last_step} of {steps}) reaches sparsity {last_sparsity:.3f}, "
            f"below the target {target}; end the schedule within the fine-tune steps")
    return [s for s, _ in fired]


def prune(model, images: np.ndarray, cfg: PruneConfig = PruneConfig()) -> PruneResult:
    """Clone ``model``, prune its Conv2D/Dense kernels as ``cfg`` says, fine-tune, strip and measure."""
    import tensorflow_model_optimization as tfmot

    cfg.validate()
    per_layer = layer_targets(model, cfg)
    schedules = {t: make_schedule(cfg, t) for t in set(per_layer.values())}
    steps = []
    for target, schedule in schedules.items():
        steps = check_schedule(schedule, cfg.tune.steps, target)
    names = list(model.output_names)
    targets = teacher_targets(model, images)
    wrapped: list[str] = []

    def wrap(layer):
        if layer.name not in per_layer:
            return layer
        wrapped.append(layer.name)
        return tfmot.sparsity.keras.prune_low_magnitude(
            layer, pruning_schedule=schedules[per_layer[layer.name]], sparsity_m_by_n=cfg.m_by_n)

    student = clone_with(model, wrap)
    distill(student, images, targets, cfg.tune, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = keep_output_names(tfmot.sparsity.keras.strip_pruning(student), names)
    report = keras_sparsity(stripped)
    # the target holds over every Conv2D/Dense kernel, pruned or kept dense
    achieved = report.of([layer.name for layer in report.layers if layer.kind in PRUNABLE])
    # m-by-n is gated by its pattern below: layers with input channels not a multiple of n land under m/n.
    if cfg.m_by_n is None and achieved < cfg.expected_sparsity - TOLERANCE:
        raise OptimizeError(
            f"pruning reached sparsity {achieved:.3f} over the Conv2D/Dense kernels ({len(wrapped)} pruned), below the target "
            f"{cfg.expected_sparsity}; the masks updated at steps {steps[:5]}...")
    if cfg.m_by_n is not None:
        m, n = cfg.m_by_n
        kernels = {layer.name: layer.kernel.numpy() for layer in stripped.layers if layer.name in wrapped}
        bad = {name: m_by_n_violations(k, m, n) for name, k in kernels.items()}
        bad = {k: v for k, v in bad.items() if v}
        if bad:
            raise OptimizeError(f"{m}:{n} sparsity does not hold in layers {bad} (groups with too many non-zeros)")
    return PruneResult(stripped, tuple(wrapped), report, achieved, tuple(steps))

