"""Bad input to ``python -m train``: option ranges, dataset images that are not images (caught by the
reader, at read time, before TensorFlow starts; dropped and counted with --skip-bad), and no half-made run
folder left behind when a run fails."""

from __future__ import annotations

import pytest

from .conftest import one_error

OPTION_CASES = [
    ("synth-train", ["synth", "--out", "{tmp}/d", "--train", "0"], ["--train 0", "1..10000000"]),
    ("synth-size", ["synth", "--out", "{tmp}/d", "--size", "8"], ["--size 8", "32..8192"]),
    ("epochs", ["detect", "--out", "{tmp}/r", "--epochs", "0"], ["--epochs 0"]),
    ("batch", ["detect", "--out", "{tmp}/r", "--batch", "-4"], ["--batch -4"]),
    ("input-size", ["detect", "--out", "{tmp}/r", "--input-size", "200"], ["--input-size 200", "multiple of 32"]),
    ("width", ["detect", "--out", "{tmp}/r", "--width", "0"], ["--width 0.0", "> 0"]),
    ("lr-nan", ["detect", "--out", "{tmp}/r", "--lr", "nan"], ["--lr nan"]),
    ("seed", ["detect", "--out", "{tmp}/r", "--seed", "-1"], ["--seed -1"]),
    ("classify-synth", ["classify", "--out", "{tmp}/r", "--synth-train", "0"], ["--synth-train 0"]),
    ("pose-epochs", ["pose", "--out", "{tmp}/r", "--epochs", "0"], ["--epochs 0"]),
    ("enhance-scale", ["enhance", "--out", "{tmp}/r", "--train-scale", "0"], ["--train-scale 0"]),
    ("enhance-width", ["enhance", "--out", "{tmp}/r", "--input-width", "2"], ["--input-width 2"]),
    ("segment-ignore", ["segment", "--out", "{tmp}/r", "--ignore-index", "-1"], ["--ignore-index -1", "0..65535"]),
    ("segment-classes", ["segment", "--out", "{tmp}/r", "--classes", "{tmp}/absent.txt"],
     ["--classes", "absent.txt", "an existing file"]),
    ("segment-value-map", ["segment", "--out", "{tmp}/r", "--value-map", "{tmp}/absent.json"], ["--value-map"]),
    ("detect-data", ["detect", "--out", "{tmp}/r", "--data", "{tmp}/absent"], ["--data", "an existing dataset folder"]),
    ("detect-weights", ["detect", "--out", "{tmp}/r", "--weights", "{tmp}/w.h5"], ["--weights", "an existing"]),
]


@pytest.mark.parametrize("args, needles", [c[1:] for c in OPTION_CASES], ids=[c[0] for c in OPTION_CASES])
def test_train_bad_options(args, needles, tmp_path, run):
    proc = run("train", *[a.format(tmp=tmp_path) for a in args])
    one_error(proc, "error:", needles)
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()


@pytest.fixture(scope="module")
def tiny_coco(tmp_path_factory):
    from .conftest import run_module

    folder = tmp_path_factory.mktemp("coco")
    proc = run_module("train", "synth", "--out", str(folder), "--train", "6", "--val", "3", "--size", "64")
    assert proc.returncode == 0, proc.stderr
    return folder


def _copy_with(tiny_coco, tmp_path, damage):
    import json
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_coco, data)
    doc = json.loads((data / "train.json").read_text())
    victim = data / doc["images"][2]["file_name"]
    damage(victim)
    return data, victim


DAMAGE = {
    "text": lambda p: p.write_text("this is not an image\n"),
    "empty": lambda p: p.write_bytes(b""),
    "truncated-jpeg": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_coco_image_that_is_not_an_image_is_caught_by_the_reader(kind, tiny_coco, tmp_path, run):
    data, victim = _copy_with(tiny_coco, tmp_path, DAMAGE[kind])
    out = tmp_path / "run"
    proc = run("train", "detect", "--data", str(data), "--out", str(out), "--epochs", "1")
    line = one_error(proc, "error:", [victim.name, "image id"])
    assert any(w in line for w in ("not an image", "file is empty", "cut short")), line
    assert "tensorflow" not in proc.stderr.lower()  # judged by the reader, before TensorFlow started
    assert not out.exists()


@pytest.mark.training
def test_skip_bad_drops_the_image_and_a_failed_run_leaves_no_folder(tiny_coco, tmp_path, run):
    """--skip-bad drops and counts the broken image; the run then fails (batch larger than the 5 images
    left) when the training spec is built, before the run folder is made: no folder is left."""
    data, victim = _copy_with(tiny_coco, tmp_path, DAMAGE["text"])
    out = tmp_path / "run"
    proc = run("train", "detect", "--data", str(data), "--out", str(out), "--epochs", "1", "--skip-bad",
               "--batch", "16", "--no-progress", timeout=300)
    assert "skipped 1 bad annotation(s) (--skip-bad)" in proc.stdout, proc.stdout + proc.stderr
    one_error(proc, "error:", ["--batch 16", "larger than the 5 training images"])
    assert not out.exists()


@pytest.mark.parametrize("existed", [False, True])
def test_a_run_failing_after_its_folder_was_made_leaves_nothing(tmp_path, existed):
    """What a fresh run wrote before failing is removed (the folder too when the run made it); an empty
    folder the user made beforehand stays, emptied."""
    from train.run_folder import removed_on_failure

    out, said = tmp_path / "run", []
    if existed:
        out.mkdir()
    with pytest.raises(RuntimeError, match="half way"):
        with removed_on_failure(out, resume=False, say=said.append):
            (out / "checkpoints").mkdir(parents=True)
            (out / "run.json").write_text("{}")
            raise RuntimeError("failed half way")
    assert out.exists() == existed and (not existed or not any(out.iterdir()))
    assert said == [f"note: removed the unfinished run folder {out} (the run failed before its first checkpoint)"]


def test_classify_folder_with_a_text_file_named_jpg_fails_at_read_time(tmp_path, run):
    """The OpenCV-read tasks (classify, enhance, pose) check their images when the split is read too."""
    import cv2
    import numpy as np

    for split in ("train", "val"):
        for name in ("cat", "dog"):
            folder = tmp_path / "data" / split / name
            folder.mkdir(parents=True)
            cv2.imwrite(str(folder / "a.png"), np.full((40, 40, 3), 50 if name == "cat" else 200, np.uint8))
    (tmp_path / "data" / "train" / "dog" / "notes.jpg").write_text("this is not an image\n")
    out = tmp_path / "run"
    proc = run("train", "classify", "--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "1")
    line = one_error(proc, "error:", ["notes.jpg", "not an image", "1 of 3 image files"])
    assert "train" in line
    assert not out.exists()
