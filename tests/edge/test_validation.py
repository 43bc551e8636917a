"""Bad values on every surface of ``edge run`` (pipeline TOML, URI options, command-line options), each run
through the real command: exit 2, one ``edge run: error:`` line naming the key and the value, no traceback,
and nothing opened (no model loaded, no sink file created) when the value can be judged without the model.
"""

from __future__ import annotations

import os

import pytest

SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
MOVENET = "models/movenet_single_pose_lightning_ptq.tflite"
CLASSIFIER = "models/mobilenet_v2_1.0_224_quant.tflite"


def _one_error(proc, needles):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge run: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# ------------------------------------------------------------------------------------------ pipeline TOML

MODEL = '[[model]]\npath = "{ssd}"\n'
TOML_CASES = [
    # (id, file body, needles of the error line)
    ("score-text", MODEL + 'score = "high"\n', ["model 1", "score = 'high'", "a number in 0..1"]),
    ("score-range", MODEL + "score = 1.5\n", ["score = 1.5", "0..1"]),
    ("score-nan", MODEL + "score = nan\n", ["score = nan", "finite"]),
    ("path-int", '[[model]]\npath = 5\n', ["path = 5", "a string"]),
    ("path-missing", '[[model]]\nname = "det"\n', ["path is required", "the .tflite file"]),
    ("source-int", 'source = 5\n' + MODEL, ["source = 5", "a string"]),
    ("when-int", MODEL + "when = 60\n", ["when = 60", "'brightness < 60'"]),
    ("when-text", MODEL + 'when = "dark"\n', ["when = 'dark'", "'brightness < 60'"]),
    ("max-boxes-text", MODEL + 'max_boxes = "many"\n', ["max_boxes = 'many'", "an integer"]),
    ("max-boxes-zero", MODEL + "max_boxes = 0\n", ["max_boxes = 0", "1..1000"]),
    ("max-boxes-bool", MODEL + "max_boxes = true\n", ["max_boxes = True", "an integer"]),
    ("model-table", '[model]\npath = "{ssd}"\n', ["[model] is one table", "[[model]]"]),
    ("model-empty", 'model = []\n', ["model = []", "not empty"]),
    ("threads-huge", 'threads = 100000\n' + MODEL, ["threads = 100000", "1..", "per CPU"]),
    ("threads-model", MODEL + "threads = 0\n", ["model 1", "threads = 0"]),
    ("queue-zero", 'queue = 0\n' + MODEL, ["queue = 0", "1..1000"]),
    ("queue-text", 'queue = "2"\n' + MODEL, ["queue = '2'", "an integer"]),
    ("sinks-int", 'sinks = 5\n' + MODEL, ["sinks = 5", "a list of strings or a string"]),
    ("sinks-ints", 'sinks = [1]\n' + MODEL, ["sinks = [1]", "a list of strings"]),
    ("delegate", MODEL + 'delegate = "tpu"\n', ["delegate = 'tpu'", "cpu, xnnpack", "did you mean gpu?"]),
    ("fallback", MODEL + "fallback = 7\n", ["fallback = 7", "a string"]),
    ("task", MODEL + 'task = "detec"\n', ["task = 'detec'", "did you mean detect?"]),
    ("iou", MODEL + "iou = -0.1\n", ["iou = -0.1", "0..1"]),
    ("max-detections", MODEL + "max_detections = 0\n", ["max_detections = 0"]),
    ("keypoint-score", MODEL + "keypoint_score = 2\n", ["keypoint_score = 2", "0..1"]),
    ("seg-view", MODEL + 'seg_view = "sideways"\n', ["seg_view = 'sideways'", "overlay, side-by-side"]),
    ("enhance-below", MODEL + "enhance_below = 60\n", ["enhance_below = 60", "0..1"]),
    ("label-offset", MODEL + "label_offset = -1\n", ["label_offset = -1"]),
    ("top-k", MODEL + "top_k = 0\n", ["top_k = 0"]),
    ("anchors", MODEL + 'anchors = "face"\n', ["anchors = 'face'", "one of"]),
    ("name-empty", MODEL + 'name = ""\n', ["name = ''", "not empty"]),
    ("labels-int", MODEL + "labels = 3\n", ["labels = 3", "a string"]),
    ("on-int", MODEL + "on = 5\n", ["on = 5", "'MODEL:LABEL'"]),
    ("on-undeclared", MODEL + 'name = "a"\n[[model]]\npath = "{ssd}"\non = "dett:person"\n',
     ["model 2", "on = 'dett:person'", "not declared before it"]),
    ("unknown-model-key", MODEL + "scroe = 0.3\n", ["unknown key(s) scroe", "did you mean score?"]),
    ("unknown-top-key", 'sink = "null://"\n' + MODEL, ["unknown key(s) sink", "did you mean sinks?"]),
]


@pytest.mark.parametrize("body, needles", [c[1:] for c in TOML_CASES], ids=[c[0] for c in TOML_CASES])
def test_pipeline_toml_bad_values(body, needles, zoo, tmp_path, cli):
    config = tmp_path / "pipe.toml"
    config.write_text(body.format(ssd=zoo / SSD))
    out = tmp_path / "out.jsonl"
    proc = cli("run", "--config", str(config), "--source", str(zoo / "images/cat.bmp"), "--sink", f"jsonl://{out}")
    line = _one_error(proc, needles)
    assert "pipe.toml" in line or "[model]" in line
    assert not out.exists()  # judged before any sink was opened
    assert "XNNPACK" not in proc.stderr  # ... and before any model was loaded


def test_pipeline_toml_not_utf8(zoo, tmp_path, cli):
    config = tmp_path / "latin1.toml"
    config.write_bytes(f'# caf\xe9\n[[model]]\npath = "{zoo / SSD}"\n'.encode("latin-1"))
    proc = cli("run", "--config", str(config), "--source", str(zoo / "images/cat.bmp"))
    _one_error(proc, ["latin1.toml", "not UTF-8", "0xe9"])


def test_pipeline_toml_label_typo_is_caught_at_load(zoo, tmp_path, cli):
    config = tmp_path / "pose.toml"
    config.write_text(f'[[model]]\npath = "{zoo / SSD}"\nname = "det"\n'
                      f'[[model]]\npath = "{zoo / MOVENET}"\ntask = "pose"\non = "det:persn"\n')
    out = tmp_path / "out.jsonl"
    proc = cli("run", "--config", str(config), "--source", str(zoo / "images/cat.bmp"), "--sink", f"jsonl://{out}")
    _one_error(proc, ["on = 'det:persn'", "no label 'persn'", "did you mean person?"])
    assert not out.exists()


# ------------------------------------------------------------------------------------------ URI options

URI_CASES = [
    # (id, --source or None, --sink or None, needles); the other end is a plain image / a jsonl file
    ("web-max-fps-0", None, "http://127.0.0.1:0?max_fps=0", ["max_fps = '0'", "(0, 1000]"]),
    ("web-max-fps-neg", None, "http://127.0.0.1:0?max_fps=-5", ["max_fps = '-5'"]),
    ("web-max-fps-text", None, "http://127.0.0.1:0?max_fps=fast", ["max_fps = 'fast'"]),
    ("web-max-fps-inf", None, "http://127.0.0.1:0?max_fps=inf", ["max_fps = 'inf'"]),
    ("web-port", None, "http://127.0.0.1:http", ["port must be a number"]),
    ("web-unknown", None, "http://127.0.0.1:0?fps=3", ["unknown option(s) fps", "did you mean max_fps?"]),
    ("segment-zero", None, "file://{tmp}/rec.mp4?segment=0", ["segment = '0'", "60s, 5m or 1h"]),
    ("segment-text", None, "file://{tmp}/rec.mp4?segment=often", ["segment = 'often'"]),
    ("sink-folder-missing", None, "jsonl://{tmp}/absent/out.jsonl", ["absent", "does not exist"]),
    ("sink-scheme", None, "ftp://host/x", ["unknown scheme 'ftp'"]),
    ("sink-extension", None, "file://{tmp}/out.xyz", ["extension '.xyz'", ".mp4"]),
    ("web-no-token", None, "http://0.0.0.0:0", ["reachable from the network", "token"]),
    ("two-sinks-one-file", None, "jsonl://{tmp}/out.jsonl", ["both write", "out.jsonl"]),
    ("synthetic-fps", "synthetic://?fps=-1", None, ["fps = '-1'", "0..1000"]),
    ("synthetic-width", "synthetic://?width=wide", None, ["width = 'wide'", "an integer in 16..8192"]),
    ("synthetic-small", "synthetic://?width=4", None, ["width = '4'"]),
    ("synthetic-frames", "synthetic://?frames=0", None, ["frames = '0'"]),
    ("synthetic-unknown", "synthetic://?size=3", None, ["unknown option(s) size"]),
    ("file-loop", "file://{img}?loop=2", None, ["loop = '2'", "one of 0, 1"]),
    ("file-max-fps", "file://{img}?max_fps=-2", None, ["max_fps = '-2'", "a number > 0"]),
    ("v4l2-width", "v4l2:///dev/video0?width=wide", None, ["width = 'wide'"]),
    ("v4l2-fourcc", "v4l2:///dev/video0?fourcc=MJPEG", None, ["fourcc = 'MJPEG'", "4 characters"]),
    ("csi-flip", "csi://0?flip=9", None, ["flip = '9'", "0..7"]),
    ("picamera2-fps", "picamera2://0?fps=0", None, ["fps = '0'"]),
    ("source-scheme", "webcam://0", None, ["unknown scheme 'webcam'"]),
]


@pytest.mark.parametrize("source, sink, needles", [c[1:] for c in URI_CASES], ids=[c[0] for c in URI_CASES])
def test_uri_bad_options(source, sink, needles, zoo, tmp_path, cli):
    img = zoo / "images/cat.bmp"
    out = tmp_path / "out.jsonl"
    source = (source or str(img)).format(img=img, tmp=tmp_path)
    sinks = ["--sink", f"jsonl://{out}"] + (["--sink", sink.format(tmp=tmp_path)] if sink else [])
    proc = cli("run", "--model", str(zoo / SSD), "--source", source, *sinks, "--quiet")
    _one_error(proc, needles)
    assert not out.exists() and "XNNPACK" not in proc.stderr  # before any model, device or file was opened


def test_sink_that_would_overwrite_the_source(zoo, tmp_path, cli):
    import shutil

    clip = tmp_path / "clip.jpg"
    shutil.copy(zoo / "images/fox.jpeg", clip)
    before = clip.read_bytes()
    proc = cli("run", "--model", str(zoo / SSD), "--source", str(clip), "--sink", f"file://{clip}")
    _one_error(proc, ["would overwrite the source"])
    assert clip.read_bytes() == before


# ------------------------------------------------------------------------------------------ command line

CLI_CASES = [
    ("threads-huge", ["--threads", "100000"], ["--threads 100000", "1..", "per CPU"]),
    ("threads-zero", ["--threads", "0"], ["--threads 0"]),
    ("score", ["--score", "2"], ["--score 2.0", "0..1"]),
    ("score-nan", ["--score", "nan"], ["--score nan", "finite"]),
    ("iou", ["--iou", "-1"], ["--iou -1.0"]),
    ("max-frames", ["--max-frames", "0"], ["--max-frames 0"]),
    ("queue", ["--queue", "0"], ["--queue 0"]),
    ("delegate-name", ["--delegate", "tpu"], ["--delegate tpu", "did you mean gpu?"]),
    ("fallback-name", ["--fallback", "cpux"], ["--fallback cpux", "did you mean cpu?"]),
    ("keypoint-score", ["--keypoint-score", "1.5"], ["--keypoint-score 1.5"]),
    ("enhance-below", ["--enhance-below", "60"], ["--enhance-below 60.0", "0..1"]),
    ("label-offset", ["--label-offset", "-1"], ["--label-offset -1"]),
    ("top-k", ["--top-k", "0"], ["--top-k 0"]),
    ("anchors", ["--anchors", "palm_19"], ["--anchors palm_19", "did you mean palm_192?"]),
    ("model-option-text", ["--model", "{ssd},score=high"], ["--model", "score = 'high'"]),
    ("model-option-unknown", ["--model", "{ssd},colour=red"], ["unknown key(s) colour"]),
    ("model-option-threads", ["--model", "{ssd},threads=100000"], ["threads = 100000"]),
]


@pytest.mark.parametrize("extra, needles", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_bad_options(extra, needles, zoo, tmp_path, cli):
    out = tmp_path / "out.jsonl"
    extra = [e.format(ssd=zoo / SSD) for e in extra]
    model = [] if "--model" in extra else ["--model", str(zoo / SSD)]
    proc = cli("run", *model, "--source", str(zoo / "images/cat.bmp"), "--sink", f"jsonl://{out}", *extra)
    _one_error(proc, needles)
    assert not out.exists() and "XNNPACK" not in proc.stderr


def test_missing_second_model_is_named_before_the_first_loads(zoo, tmp_path, cli):
    proc = cli("run", "--model", f"{zoo / SSD},name=det", "--model", f"{tmp_path}/absent.tflite,on=det:person",
               "--source", str(zoo / "images/cat.bmp"))
    _one_error(proc, ["absent.tflite", "no such file"])
    assert "XNNPACK" not in proc.stderr


def test_delegate_that_is_a_library_but_not_a_delegate(zoo, tmp_path, cli):
    libm = next((p for p in ("/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6",
                             "/usr/lib/libm.so.6") if os.path.exists(p)), None)
    if libm is None:
        pytest.skip("no libm.so.6 at a known path")
    proc = cli("run", "--model", str(zoo / SSD), "--source", str(zoo / "images/cat.bmp"), "--delegate", libm)
    _one_error(proc, [libm, "not a TFLite delegate", "tflite_plugin_create_delegate"])


def test_labels_shorter_than_the_classifier_is_caught_at_load(zoo, tmp_path, cli):
    labels = tmp_path / "short.txt"
    labels.write_text("\n".join(f"class{i}" for i in range(80)) + "\n")
    out = tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(zoo / CLASSIFIER), "--task", "classify", "--labels", str(labels),
               "--source", str(zoo / "images/cat.bmp"), "--sink", f"jsonl://{out}")
    _one_error(proc, ["short.txt", "80 labels", "1001 outputs"])
    assert not out.exists()  # at load, before the source or any sink was opened


def test_good_values_still_run(zoo, tmp_path, cli):
    """The same surfaces with good values: the checks refuse only what is wrong."""
    config = tmp_path / "ok.toml"
    config.write_text(f'sinks = "jsonl://{tmp_path}/a.jsonl"\nthreads = 2\nqueue = 3\n'
                      f'[[model]]\npath = "{zoo / SSD}"\nname = "det"\nscore = 1\nmax_boxes = 2\n'
                      f'when = "brightness >= 0"\n')
    proc = cli("run", "--config", str(config), "--source", "synthetic://?frames=2&fps=0&width=64&height=48",
               "--quiet", "--sink", f"jsonl://{tmp_path}/a.jsonl", "--sink", "http://127.0.0.1:0?max_fps=2.5")
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 2
