"""The best epoch, early stopping and freeze-then-unfreeze of the shared training loop (train/epochs.py,
train/transfer.py), on a tiny real classifier whose validation score is scripted: the loop, not the model,
is under test, so the scores are chosen to make the best epoch differ from the last."""

from __future__ import annotations

import numpy as np
import pytest

from tests.train_tasks.tiny_spec import TinySpec
from train.epochs import BestEpoch, EpochOptionError, Progress, check_epoch_options, shown_metrics


def test_best_epoch_tracks_the_maximum_and_stops_after_patience():
    best = BestEpoch("top1", patience=2)
    assert [best.update(e, {"top1": v}) for e, v in enumerate([0.5, 0.8, 0.6, 0.7], 1)] == [True, True, False,
                                                                                           False]
    assert best.should_stop and (best.epoch, best.value) == (2, 0.8)
    assert best.to_json(4, True) == {"epoch": 2, "metric": "top1", "value": 0.8, "last_epoch": 4, "patience": 2,
                                     "stopped_early": True}
    never = BestEpoch("top1", patience=0)
    for e in range(1, 6):
        never.update(e, {"top1": 1.0 / e})
    assert not never.should_stop and never.epoch == 1


def test_without_the_headline_metric_the_last_epoch_is_kept():
    best = BestEpoch("psnr", patience=1)  # an unpaired enhancement run has no PSNR
    for e in (1, 2, 3):
        assert best.update(e, {"mean_out": 0.4})
    assert best.epoch == 3 and not best.should_stop
    assert best.to_json(3, False)["metric"] is None


def test_epoch_option_errors_name_the_option():
    with pytest.raises(EpochOptionError, match="--freeze-epochs 2 needs --weights"):
        check_epoch_options(5, 0, 2, None, False)
    with pytest.raises(EpochOptionError, match="--freeze-epochs 5 must be smaller than --epochs 5"):
        check_epoch_options(5, 0, 5, "w.h5", False)
    with pytest.raises(EpochOptionError, match="--patience -1"):
        check_epoch_options(5, -1, 0, None, False)
    with pytest.raises(EpochOptionError, match="multi-worker"):
        check_epoch_options(5, 2, 0, None, True)


def test_top5_is_shown_only_above_five_classes():
    m = {"top1": 0.5, "top5": 1.0}
    assert shown_metrics(m, 2) == {"top1": 0.5} and shown_metrics(m, 5) == {"top1": 0.5}
    assert shown_metrics(m, 6) == m


def test_progress_in_a_pipe_prints_lines_and_no_bar(tmp_path):
    with open(tmp_path / "err", "w") as err, open(tmp_path / "out", "w") as out:
        p = Progress(True, stream=err, out=out)
        assert not p.bar_on
        for _ in p.bar(range(3), 1, 2):
            p.postfix(loss=1.0)
        p.line("epoch 1/2: loss 1.0")
    assert (tmp_path / "out").read_text() == "epoch 1/2: loss 1.0\n"
    assert (tmp_path / "err").read_text() == ""


class _ScriptedClassifier(TinySpec):
    """TinySpec's loop parts around a real 3-class classifier (MobileNetV2 layers, for the freeze test);
    evaluate() records every layer's weights it was given."""

    def __init__(self, scores, size=32):
        from train.classify.task import ClassifyConfig

        super().__init__(scores, size)
        self.cfg = ClassifyConfig(size, 0.35, head_channels=16)

    def build(self):
        from train.classify.task import build_classifier

        return build_classifier(3, self.cfg)

    def evaluate(self, model):
        self.seen.append({layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers
                          if layer.weights})
        return {"top1": self.scores[len(self.seen) - 1], "top5": 1.0}


@pytest.mark.training
def test_best_checkpoint_and_early_stop(tmp_path):
    from train.saved_model import load_model
    from train.run_folder import read_history, read_run_json, RunPaths
    from train.task_fit import FitConfig, fit

    spec = TinySpec([0.4, 0.9, 0.5, 0.6, 0.7, 0.8])  # the loop is under test: a three-layer model
    out = tmp_path / "run"
    result = fit(spec, FitConfig(out=out, epochs=6, batch_size=4, learning_rate=0.05, patience=2,
                                 show_progress=False))
    run = read_run_json(out)
    # best at epoch 2; epochs 3 and 4 bring nothing better; patience 2 stops before epoch 5
    assert run["best"] == {"epoch": 2, "metric": "top1", "value": 0.9, "last_epoch": 4, "patience": 2,
                           "stopped_early": True}
    assert [r["epoch"] for r in read_history(RunPaths(out))] == [1, 2, 3, 4]
    assert run["metrics"] == {"top1": 0.9} and run["metrics_last"]["top1"] == 0.6
    assert result.metrics["top1"] == 0.9
    saved = load_model(str(out / "model.keras"))
    best, last = spec.seen[1], spec.seen[3]
    assert not np.array_equal(best, last)  # the weights did move after epoch 2
    np.testing.assert_array_equal(saved.get_layer("conv").get_weights()[0], best)  # model.keras: epoch 2's


@pytest.mark.training
def test_freeze_then_unfreeze_keeps_the_backbone_for_the_frozen_epochs(tmp_path):
    from train.classify.task import ClassifyConfig, build_classifier
    from train.task_fit import FitConfig, fit

    donor = build_classifier(3, ClassifyConfig(32, 0.35, head_channels=16))
    donor.save(tmp_path / "donor.keras")
    spec = _ScriptedClassifier([0.1, 0.2, 0.3])
    fit(spec, FitConfig(out=tmp_path / "run", epochs=3, batch_size=4, learning_rate=0.05, weights=str(
        tmp_path / "donor.keras"), freeze_epochs=1, show_progress=False))
    start = {layer.name: layer.get_weights() for layer in donor.layers if layer.weights}
    after1, after2 = spec.seen[0], spec.seen[1]
    for name in ("Conv1", "block_3_project", "block_3_project_BN"):  # frozen in epoch 1 (BN statistics too)
        for a, b in zip(after1[name], start[name]):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(after2["block_3_project"][0], start["block_3_project"][0])  # trained in epoch 2
    assert not np.array_equal(after1["scores"][0], start["scores"][0])  # the head trains from the start


@pytest.mark.training
def test_detection_keeps_its_best_epoch_too(tmp_path, monkeypatch):
    """Detection (train/detect.py's spec, trained by the same loop): a scripted mAP picks epoch 1, patience 1
    stops."""
    from types import SimpleNamespace

    import train.detect as detect
    from train.datasets import load_detection_data
    from train.saved_model import load_model
    from train.synth import SynthConfig, generate

    generate(SynthConfig(tmp_path / "data", train=8, val=2, size=64, seed=0))
    data = load_detection_data(tmp_path / "data", "coco")
    scores, seen = [0.6, 0.3, 0.2], []

    def scripted(model, records, size):
        seen.append(model.get_layer("head8_out").get_weights()[0].copy())
        v = scores[len(seen) - 1]
        return SimpleNamespace(map50=v, map50_95=v / 2)

    monkeypatch.setattr(detect, "evaluate", scripted)
    out = tmp_path / "run"
    run = detect.train_detector(detect.TrainConfig(out=out, epochs=3, batch=8, input_size=64, lr=0.05,
                                                   allow_small_input=True, show_progress=False, patience=1), data)
    assert run["best"] == {"epoch": 1, "metric": "map50", "value": 0.6, "last_epoch": 2, "patience": 1,
                           "stopped_early": True}
    assert run["metrics"]["map50"] == 0.6 and run["metrics_last"]["map50"] == 0.3
    saved = load_model(str(out / "model.keras")).get_layer("head8_out").get_weights()[0]
    assert not np.array_equal(seen[0], seen[1])
    np.testing.assert_array_equal(saved, seen[0])
