"""Without --data each task trains on its synthetic set in data/synth-<task>, reused only while it was made with
the same settings (train/synthetic_cache.py): asking for other counts, sizes or seeds generates it again, for
every task, and a generation that stopped half way is never reused."""

from __future__ import annotations

import json

import pytest

from train.cli import _parser
from train.synthetic_cache import MARKER, cached_synthetic, synthetic_matches
from train.task_cli import fit_tasks
from train import tasks

# task -> (small synthetic options, an option that changes the set)
SMALL = {
    "classify": (["--input-size", "32", "--synth-train", "5", "--synth-val", "5"], ["--synth-train", "10"]),
    "segment": (["--input-size", "64", "--synth-train", "3", "--synth-val", "2"], ["--seed", "3"]),
    "pose": (["--input-size", "64", "--synth-train", "3", "--synth-val", "2"], ["--synth-val", "3"]),
    "enhance": (["--input-width", "32", "--input-height", "24", "--synth-train", "3", "--synth-val", "2"],
                ["--train-scale", "3"]),
}


def _settings(root):
    return json.loads((root / MARKER).read_text())


@pytest.mark.parametrize("task", sorted(SMALL))
def test_a_changed_option_generates_the_set_again(task, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    small, change = SMALL[task]
    base = [task, "--out", str(tmp_path / "run"), *small]
    trainer = tasks.get(task).trainer
    trainer(_parser().parse_args(base))
    root = tmp_path / "data" / f"synth-{task}"
    first = _settings(root)
    assert first["generator"] == task and "generating" in capsys.readouterr().out
    trainer(_parser().parse_args(base))  # same options: reused, nothing printed about generating
    assert "generating" not in capsys.readouterr().out
    trainer(_parser().parse_args([*base, *change]))
    assert "generating" in capsys.readouterr().out and _settings(root) != first


def test_every_training_task_is_covered():
    assert set(fit_tasks()) - {"detect"} == set(SMALL)  # detect's set is fixed (1500/300 at 256), same helper


def test_an_interrupted_generation_is_not_reused(tmp_path):
    settings = {"generator": "x", "version": 1, "train": 2}

    def fails(root):
        (root / "0.png").write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_synthetic(tmp_path, settings, fails, "a set", say=lambda _: None)
    assert not synthetic_matches(tmp_path, settings)  # no marker: the next run generates it again
    made = []
    cached_synthetic(tmp_path, settings, made.append, "a set", say=lambda _: None)
    assert made == [tmp_path] and synthetic_matches(tmp_path, settings)
    assert not synthetic_matches(tmp_path, {**settings, "train": 3})
    (tmp_path / MARKER).write_text("{not json")
    assert not synthetic_matches(tmp_path, settings)
