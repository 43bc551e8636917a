"""Segmentation training: the learning-rate schedule the task hands to the shared loop, and that the loop
really trains with it (train/task_fit.py takes ``learning_rate_schedule`` from the task when it has one)."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from train.saved_model import load_model
from train.segment.data import generate_synthetic, read_voc_split
from train.segment.task import SegmentConfig, SegmentTask
from train.task_fit import FitConfig, TaskConfigError, fit


def _task(root, cls=SegmentTask, hold=0.6):
    generate_synthetic(root, 8, 2, 64, 0)
    train, val = read_voc_split(root, "train"), read_voc_split(root, "val")
    return cls(train, val, SegmentConfig(64, lr_hold=hold), batch_size=4, seed=0, data={})


@pytest.mark.parametrize("epochs, hold", [(10, 0.6), (3, 0.0), (1, 1.0)])
def test_schedule_holds_then_decays_to_five_percent(tmp_path, epochs, hold):
    task = _task(tmp_path, hold=hold)
    steps = epochs * 2  # 8 images, batch 4
    lr = task.learning_rate_schedule(3e-3, epochs)
    held = int(hold * steps)
    assert float(lr(0)) == pytest.approx(3e-3)
    assert float(lr(held)) == pytest.approx(3e-3)
    assert float(lr(steps)) == pytest.approx(3e-3 * 0.05, rel=1e-3) or hold == 1.0
    values = [float(lr(i)) for i in range(steps + 1)]
    assert all(b <= a + 1e-9 for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("hold", [-0.1, 1.5])
def test_hold_share_outside_zero_to_one_is_refused(hold):
    with pytest.raises(TaskConfigError, match=rf"lr_hold {hold}: expected a share of the steps in 0..1"):
        SegmentConfig(lr_hold=hold).validate()


class _Frozen(SegmentTask):
    """A segment task whose schedule is 0 throughout: the loop must leave every kernel as built."""

    def learning_rate_schedule(self, base, epochs):
        return keras.optimizers.schedules.PiecewiseConstantDecay([10 ** 6], [0.0, 0.0])


@pytest.mark.parametrize("cls, changes", [(_Frozen, False), (SegmentTask, True)])
def test_the_loop_trains_with_the_task_schedule(tmp_path, cls, changes):
    task = _task(tmp_path / "data", cls)
    fit(task, FitConfig(out=tmp_path / "run", epochs=1, batch_size=4, learning_rate=3e-3, seed=0))
    trained = load_model(str(tmp_path / "run" / "model.keras"))
    keras.utils.set_random_seed(0)  # the loop builds its model right after seeding the same way
    fresh = task.build()
    kernel = "seg_cls"
    moved = not np.allclose(trained.get_layer(kernel).get_weights()[0], fresh.get_layer(kernel).get_weights()[0])
    assert moved == changes
