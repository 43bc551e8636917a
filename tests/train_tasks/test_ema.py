"""The weight average of the shared training loop (train/ema.py, ``--ema``): the arithmetic on a real Keras model,
and through ``fit`` on a three-layer classifier: validation and model.keras see the average, the checkpoint keeps
both, --resume continues the average."""

from __future__ import annotations

import numpy as np
import pytest

from tests.train_tasks.tiny_spec import TinySpec


def _tiny_model():
    import tf_keras as keras

    inp = keras.Input((3,))
    x = keras.layers.Dense(2, name="dense")(inp)
    out = keras.layers.BatchNormalization(name="bn")(x)
    return keras.Model(inp, out)


def test_average_follows_the_ramped_decay_on_every_weight():
    from train.ema import WeightAverage, ramped_decay

    model = _tiny_model()
    start = [w.copy() for w in model.get_weights()]
    avg = WeightAverage(model, decay=0.5)
    expected = [w.copy() for w in start]
    for step in range(4):
        new = [w + (step + 1.0) for w in start]  # trainable weights and BN statistics move alike
        model.set_weights(new)
        avg.update()
        d = ramped_decay(0.5, step)
        expected = [d * e + (1 - d) * n for e, n in zip(expected, new)]
    assert [ramped_decay(0.5, n) for n in range(4)] == [0.1, 2 / 11, 0.25, 4 / 13]
    assert ramped_decay(0.5, 100) == 0.5  # the ramp ends at the decay asked for
    assert int(avg.updates.numpy()) == 4
    for a, e in zip(avg.average, expected):
        np.testing.assert_allclose(a.numpy(), e, rtol=1e-6)
    own = [w.copy() for w in model.get_weights()]
    with avg.applied(model):
        for w, e in zip(model.get_weights(), expected):
            np.testing.assert_allclose(w, e, rtol=1e-6)
    for w, o in zip(model.get_weights(), own):  # the model's own weights are back after the block
        np.testing.assert_array_equal(w, o)


def test_ema_option_errors_name_the_option():
    from train.ema import EmaOptionError, check_ema

    for bad in (1.0, -0.1, 2):
        with pytest.raises(EmaOptionError, match=f"--ema {bad}: expected a decay in \\[0, 1\\)"):
            check_ema(bad, False)
    with pytest.raises(EmaOptionError, match="--ema cannot be used with --strategy multiworker"):
        check_ema(0.99, True)
    check_ema(0.0, True)  # off: nothing to refuse


def test_ema_out_of_range_is_refused_by_the_command_line(tmp_path, capsys):
    from train.cli import main

    assert main(["classify", "--out", str(tmp_path / "run"), "--ema", "1.5", "--epochs", "1"]) == 2
    assert "--ema 1.5: expected a decay in [0, 1) (0 = off)" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def _restored(spec, checkpoint: str, decay: float):
    """The raw weights and the average stored in a run's checkpoint, each read into a fresh build."""
    import tensorflow as tf

    from train.ema import WeightAverage

    raw, holder = spec.build(), spec.build()
    average = WeightAverage(holder, decay)
    tf.train.Checkpoint(model=raw, ema=average).restore(checkpoint).expect_partial()
    return raw, average


@pytest.mark.training
def test_fit_validates_and_saves_the_average_and_resume_continues_it(tmp_path):
    import tensorflow as tf

    from train.run_folder import read_run_json
    from train.saved_model import load_model
    from train.task_fit import FitConfig, fit

    out = tmp_path / "run"
    spec = TinySpec([0.5, 0.4, 0.3])  # epoch 1 stays the best
    fit(spec, FitConfig(out=out, epochs=1, batch_size=4, learning_rate=0.05, ema=0.9, show_progress=False))
    raw, average = _restored(spec, tf.train.latest_checkpoint(str(out / "checkpoints")), 0.9)
    assert int(average.updates.numpy()) == 2  # two steps per epoch
    saved = load_model(str(out / "model.keras"))
    avg_kernel = average.average[[w.name for w in raw.weights].index(raw.get_layer("conv").weights[0].name)]
    assert not np.allclose(raw.get_layer("conv").get_weights()[0], avg_kernel.numpy())  # the two differ
    np.testing.assert_allclose(saved.get_layer("conv").get_weights()[0], avg_kernel.numpy(), rtol=1e-6)
    np.testing.assert_allclose(spec.seen[0], avg_kernel.numpy(), rtol=1e-6)  # validation saw it too
    assert read_run_json(out)["ema"] == 0.9

    resumed = TinySpec([0.4, 0.3])
    fit(resumed, FitConfig(out=out, epochs=3, batch_size=4, learning_rate=0.05, ema=0.9, resume=True,
                           show_progress=False))
    _, average = _restored(spec, tf.train.latest_checkpoint(str(out / "checkpoints")), 0.9)
    assert int(average.updates.numpy()) == 6  # the count went on from the checkpoint: 2 + 2 epochs x 2 steps
    run = read_run_json(out)
    assert run["best"]["epoch"] == 1 and run["best"]["last_epoch"] == 3
    kept = load_model(str(out / "model.keras")).get_layer("conv").get_weights()[0]
    np.testing.assert_allclose(kept, saved.get_layer("conv").get_weights()[0], rtol=1e-6)  # epoch 1's average
