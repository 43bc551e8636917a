"""`python -m edge run` and `info` end to end on real files, and the no-TensorFlow guarantee."""

from __future__ import annotations

import json

import cv2

SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"

NO_TF = """
import sys, importlib.abc

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith(("tensorflow.", "tf_keras", "keras")):
            raise ImportError("TensorFlow is blocked in this test")

sys.meta_path.insert(0, NoTensorFlow())
sys.argv = ["edge"] + sys.argv[1:]
from edge.cli import main
rc = main()
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tf_keras", "keras"))
print("LEAKED", leaked)
sys.exit(rc)
"""


def test_video_to_mp4_and_jsonl(zoo, tmp_path, cli):
    video, jsonl = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(zoo / SSD), "--source", f"file://{zoo}/video/one-by-one-person-detection.mp4",
                   "--sink", f"file://{video}", "--sink", f"jsonl://{jsonl}", "--max-frames", "30", "--threads", "2",
                   "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "frames: 30" in proc.stdout and "invoke-only" in proc.stdout
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (432, 768, 3)
        frames += 1
    cap.release()
    assert frames == 30
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [rec["frame"] for rec in lines] == list(range(30))
    for rec in lines:
        assert list(rec) == ["frame", "source", "task", "detections", "timing_ms", "time", "latency_ms"]
        assert rec["source"] == "one-by-one-person-detection.mp4" and rec["task"] == "detect"
        assert set(rec["timing_ms"]) == {"capture", "pre", "infer", "post", "render"}  # sink time: in the summary
        for det in rec["detections"]:
            x0, y0, x1, y1 = det["box"]
            assert 0 <= x0 <= x1 <= 768 and 0 <= y0 <= y1 <= 432 and det["score"] >= 0.3


def test_no_tensorflow_end_to_end(zoo, tmp_path, cli):
    jsonl = tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(zoo / SSD), "--source", str(zoo / "images/cats_and_dogs.jpg"),
                   "--sink", f"jsonl://{jsonl}", "--sink", f"file://{tmp_path}/annotated/", "--score", "0.45",
                   code=NO_TF)
    assert proc.returncode == 0, proc.stderr
    assert "LEAKED []" in proc.stdout
    (rec,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [d["label"] for d in rec["detections"]] == ["cat", "cat", "cat", "dog"]
    assert cv2.imread(str(tmp_path / "annotated/cats_and_dogs.jpg")).shape == (600, 1200, 3)


def test_folder_of_images_with_labels_file(zoo, tmp_path, cli):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("grace_hopper.bmp", "cats_and_dogs.jpg"):
        (folder / name).write_bytes((zoo / "images" / name).read_bytes())
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"thing{i}" for i in range(90)) + "\n")
    jsonl = tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(zoo / SSD), "--source", str(folder), "--sink", f"jsonl://{jsonl}",
                   "--labels", str(labels), "--score", "0.6", "--quiet")
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["source"] for r in recs] == ["cats_and_dogs.jpg", "grace_hopper.bmp"]
    assert recs[1]["detections"][0]["label"] == "thing0"  # --labels overrides the model's own


def test_info_reports_metadata(zoo, cli):
    proc = cli("info", "--model", str(zoo / SSD), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["task"] == "detect" and info["info_source"] == "tflite-support"
    assert "TFLite_Detection_PostProcess v1" in info["ops"] and info["associated_files"] == ["labelmap.txt"]
    assert info["labels"]["count"] == 90 and info["input"]["width"] == 300
