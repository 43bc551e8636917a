"""The recognition table (edge.families): every zoo model's family, task and preprocessing plan, the
``edge info`` plan, the user's input normalisation (--input-range / --mean --std, TOML) and its bad values,
the resize per family, and the one Engine.run path with pure decode functions."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from edge.engine import Engine, Inference
from edge.errors import ConfigError, MetadataError, ModelError
from edge.families import FAMILIES, family_named
from edge.model_spec import Normalisation, Resize
from edge.input_options import normalisation_from
from edge.metadata import model_info
from edge.model_file import read_model_file
from edge.pipeline_config import load_config
from edge.preprocess import resize_frame
from edge.tasks import adapter_for
from tests.edge.tiny_models import mean_model

# first zoo set: file -> (family, task, resize interpolation, normalisation text, labels count)
FIRST_SET = {
    "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite": ("ssd_postprocess", "detect", "linear", 90),
    "deeplabv3_257_mv_gpu.tflite": ("deeplab", "segment", "area", 21),
    "deeplabv3_mnv2_pascal_quant.tflite": ("deeplab", "segment", "area", 0),
    "lite-model_zero-dce_1.tflite": ("zero_dce", "enhance", "linear", 0),
    "mobilenet_v2_1.0_224_quant.tflite": ("classifier", "classify", "area", 1001),
    "mobilenet_v1_0.25_128_quant_edgetpu_NEGATIVE.tflite": ("classifier", "classify", "area", 1001),
    "movenet_single_pose_lightning_ptq.tflite": ("movenet_single", "pose", "linear", 0),
}
NEGATIVE = {"invalid_model_invoking_error.tflite", "face_landmark_with_attention_CUSTOMOP_NEGATIVE.tflite"}
# second zoo set: file -> (family, task); None: no row takes it (edge run names its outputs)
SECOND_SET = {
    "yolov8n_int8_320.tflite": ("ultralytics", "detect"),
    "yolo11n_int8_nchw_litert.tflite": ("ultralytics", "detect"),
    "yolo26n_int8_320_end2end.tflite": ("ultralytics", "detect"),
    "yolov5nu_full_integer_quant.tflite": ("ultralytics", "detect"),
    "yolo11n-pose_int8.tflite": ("ultralytics", "detect"),
    "yolo11n-seg_int8_nms.tflite": ("ultralytics", "detect"),
    "yolov5n_uint8_anchors.tflite": ("yolov5_anchors", "detect"),
    "face_detection_full_range.tflite": ("mediapipe_ssd", "detect"),
    "face_detection_full_range_sparse.tflite": ("mediapipe_ssd", "detect"),
    "palm_detection_lite.tflite": ("mediapipe_ssd", "detect"),
    "palm_detection_full.tflite": ("mediapipe_ssd", "detect"),
    "yolo11n-pose_full_integer_quant_256.tflite": ("ultralytics", "detect"),
    "yolov8n-seg_int8_nchw_litert.tflite": ("ultralytics", "detect"),
    "hand_landmark_lite.tflite": ("mediapipe_landmarks", "landmarks"),
    "face_landmark.tflite": ("mediapipe_landmarks", "landmarks"),
    "pose_landmark_full.tflite": ("mediapipe_landmarks", "landmarks"),
    "selfie_segmentation_landscape.tflite": ("selfie_segmenter", "segment"),
}


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """Float input, no metadata, one [1, 3] output = the mean normalised value of each input channel."""
    return mean_model(tmp_path_factory.mktemp("tiny") / "float_classifier.tflite")


@pytest.mark.parametrize("name", sorted(FIRST_SET))
def test_first_set_family_task_and_plan(zoo, name):
    family, task, interpolation, n_labels = FIRST_SET[name]
    info = model_info(read_model_file(zoo / "models" / name))
    assert (info.family, info.task) == (family, task)
    assert info.plan.task == task and info.plan.recognised_by
    assert info.input.interpolation == interpolation == family_named(family).resize.interpolation
    assert len(info.labels) == n_labels
    assert not info.plan.assumed  # every first-set model's normalisation has a source


@pytest.mark.parametrize("name", sorted(SECOND_SET))
def test_second_set_family_and_task(zoo, name):
    family, task = SECOND_SET[name]
    info = model_info(read_model_file(zoo / "models" / name))
    assert (info.family, info.task) == (family, task)
    assert info.plan.resize.mode == family_named(family).resize.mode
    assert not info.plan.assumed


def test_first_and_second_sets_are_every_zoo_model(zoo):
    assert {p.name for p in (zoo / "models").glob("*.tflite")} == set(FIRST_SET) | set(SECOND_SET) | NEGATIVE


def test_edge_info_names_task_and_plan_for_every_decodable_zoo_file(zoo, capsys):
    """``edge info --json`` (in this process: one interpreter-free read per file) on every zoo file that runs:
    its task, and the plan's family, resize, normalisation, labels and decoder, each with its reason."""
    from edge.cli import main

    for name, (family, task, *_) in {**FIRST_SET, **SECOND_SET}.items():
        assert main(["info", "--model", str(zoo / "models" / name), "--json"]) == 0, name
        report = json.loads(capsys.readouterr().out)
        assert report["task"] == task and report["family"] == family, name
        plan = report["plan"]
        assert plan["task"] == task and plan["family"].startswith(f"{family}: "), (name, plan["family"])
        assert plan["decoder"].startswith("edge.tasks."), name
        for key in ("resize", "normalisation", "labels"):
            assert plan.get(key), (name, key, plan)
        assert "warnings" not in plan, (name, plan["warnings"])  # nothing assumed silently
        if task == "detect" and not report["labels"]["count"]:  # the classic YOLOv5 file: no names inside
            assert plan["labels"] == "none in the file: edge run needs --labels FILE for a detector", name


def test_unrecognised_model_run_error_lists_the_known_tasks(tmp_path, cli):
    model = mean_model(tmp_path / "two.tflite", outputs=2, names=("left", "right"))
    proc = cli("run", "--model", str(model), "--source", "synthetic://?fps=30", "--sink", "null://",
               "--max-frames", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no row of the recognition table matches its outputs (left [1, 3], right [1, 3])" in proc.stderr
    assert "give --task classify|detect|enhance|landmarks|pose|segment" in proc.stderr


SELFIE_IMAGES = ("pose_image1.png", "pose_image2.jpeg", "pose_image3.jpeg", "astronaut.png", "store_aisle_f66.png",
                 "table.jpg")


def test_selfie_segmenter_matches_mediapipe_image_segmenter(zoo):
    """MediaPipe Tasks' category masks (0 = person) for the selfie landscape model, at image resolution."""
    engine = Engine(zoo / "models/selfie_segmentation_landscape.tflite", threads=2)
    assert (engine.info.family, engine.info.task, engine.info.input.resize) == ("selfie_segmenter", "segment", "stretch")
    assert engine.info.plan.normalisation.range() == (0.0, 1.0)
    for name in SELFIE_IMAGES:
        frame = cv2.imread(str(zoo / "images" / name))
        seg, _ = engine.run_frame(frame, adapter_for("segment"), {})
        stem = name.rsplit(".", 1)[0]
        upstream = cv2.imread(str(zoo / f"expected/mediapipe/masks/selfie_landscape__{stem}_category.png"),
                              cv2.IMREAD_GRAYSCALE) == 0
        ours = seg.class_map == 1
        assert ours.shape == upstream.shape
        assert np.mean(ours == upstream) >= 0.985, name
        assert abs(ours.mean() - upstream.mean()) < 0.01, name
        assert seg.label(1) == "person"


def test_every_zoo_model_is_recognised_or_named_unknown_with_its_outputs(zoo):
    """Second-set files included: a family and task, or 'unknown' with the outputs that were seen."""
    seen = []
    for path in sorted((zoo / "models").glob("*.tflite")):
        info = model_info(read_model_file(path))
        if info.task is None:
            assert info.family == "unknown"
            mf = read_model_file(path)
            for t in mf.main.output_tensors():
                assert f"{t.name or '?'} {list(t.shape)}" in info.plan.recognised_by, path.name
        else:
            assert info.family in {f.name for f in FAMILIES}
            assert info.plan.decoder.startswith("edge.tasks")
        seen.append(path.name)
    assert set(FIRST_SET) | NEGATIVE <= set(seen)


def test_tflite_support_normalisation_is_honoured(zoo):
    info = model_info(read_model_file(zoo / "models/deeplabv3_257_mv_gpu.tflite"))
    assert info.input.mean == (127.5,) * 3 and info.input.std == (127.5,) * 3
    assert "tflite-support NormalizationOptions" in info.plan.normalisation.why


def test_quantized_input_takes_raw_pixels(zoo):
    info = model_info(read_model_file(zoo / "models/movenet_single_pose_lightning_ptq.tflite"))
    assert info.plan.normalisation is None and "raw pixels 0..255" in info.plan.input_note


def test_float_classifier_without_metadata_gets_minus_one_one(tiny_classifier):
    engine = Engine(tiny_classifier)
    assert engine.info.family == "classifier" and engine.info.task == "classify"
    assert engine.info.plan.normalisation.range() == (-1.0, 1.0)
    frame = np.zeros((20, 30, 3), np.uint8)
    frame[..., 0], frame[..., 1], frame[..., 2] = 255, 0, 51  # BGR: the model sees R=51, G=0, B=255
    out = next(iter(engine.run(frame).outputs.values()))[0]
    assert out == pytest.approx([51 / 127.5 - 1, -1.0, 1.0], abs=1e-5)


@pytest.mark.parametrize("norm, expect", [
    (Normalisation.from_range(0, 1), [0.2, 0.0, 1.0]),
    (Normalisation.from_range(0, 255), [51.0, 0.0, 255.0]),
    (Normalisation((10.0, 20.0, 30.0), (2.0, 4.0, 5.0)), [20.5, -5.0, 45.0]),
])
def test_user_normalisation_overrides_and_is_recorded(tiny_classifier, norm, expect):
    engine = Engine(tiny_classifier)
    engine.info = engine.info.with_overrides(normalisation=norm.because("test"))
    assert "overriding mean 127.5 std 127.5" in engine.info.plan.normalisation.why
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[..., 0], frame[..., 2] = 255, 51
    out = next(iter(engine.run(frame).outputs.values()))[0]
    assert out == pytest.approx(expect, abs=1e-4)


def test_unknown_float_model_normalisation_is_flagged_as_assumed(tmp_path):
    info = model_info(read_model_file(mean_model(tmp_path / "two.tflite", outputs=2)))
    assert info.family == "unknown" and info.task is None
    assert info.plan.assumed and "--input-range" in info.plan.assumed[0]
    fixed = info.with_overrides(normalisation=Normalisation.from_range(-1, 1, 1, "user"))
    assert not fixed.plan.assumed and fixed.input.mean == (127.5,) * 3


@pytest.mark.parametrize("kwargs, message", [
    ({"input_range": "1,0"}, "LOW must be below HIGH"),
    ({"input_range": "0,0"}, "LOW must be below HIGH"),
    ({"input_range": "nan,1"}, "not a finite number"),
    ({"input_range": "0,inf"}, "not a finite number"),
    ({"input_range": "0"}, "expected two numbers"),
    ({"input_range": "a,b"}, "'a' is not a number"),
    ({"input_range": [0, 1, 2]}, "expected two numbers"),
    ({"mean": "127.5", "std": "0"}, "must be greater than 0"),
    ({"mean": "127.5", "std": "-1"}, "must be greater than 0"),
    ({"mean": "nan", "std": "1"}, "not a finite number"),
    ({"mean": "127.5"}, "needs --std"),
    ({"std": "127.5"}, "needs --mean"),
    ({"mean": "1,2", "std": "1,2,3"}, "give 1 or one per channel"),
    ({"input_range": "0,1", "mean": "3", "std": "1"}, "not both"),
])
def test_bad_normalisation_values_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        normalisation_from(cli=True, **kwargs)


def test_normalisation_parsing_forms():
    assert normalisation_from("-1,1", cli=True).range() == (-1.0, 1.0)
    assert normalisation_from("-1..1").range() == (-1.0, 1.0)  # the form inside --model PATH,k=v lists
    assert normalisation_from([0, 1]).range() == (0.0, 1.0)  # TOML list
    n = normalisation_from(mean=[123.7, 116.3, 103.5], std=58.4)
    assert n.mean == (123.7, 116.3, 103.5) and n.std == (58.4,) * 3
    assert normalisation_from() is None
    with pytest.raises(ConfigError, match="do not fit a 3-channel input"):
        Normalisation((1.0, 2.0), (1.0, 1.0)).for_channels(3)


def test_bad_resize_and_normalisation_objects_are_refused():
    with pytest.raises(ConfigError, match="resize mode"):
        Resize("crop")
    with pytest.raises(ConfigError, match="interpolation"):
        Resize(interpolation="cubic")
    with pytest.raises(ConfigError, match="0..255"):
        Resize("letterbox", pad_value=300)
    with pytest.raises(ConfigError, match="greater than 0"):
        Normalisation((0.0,), (0.0,))
    with pytest.raises(ConfigError, match="finite"):
        Normalisation((math.nan,), (1.0,))


def test_pipeline_toml_input_range(tmp_path, tiny_classifier):
    toml = tmp_path / "p.toml"
    toml.write_text(f'source = "synthetic://"\n[[model]]\npath = "{tiny_classifier}"\ninput_range = [0, 1]\n'
                    f'[[model]]\npath = "{tiny_classifier}"\nname = "b"\nmean = 10\nstd = [2, 4, 5]\n')
    config = load_config(toml)
    assert config.models[0].normalisation.range() == (0.0, 1.0)
    assert config.models[1].normalisation.mean == (10.0,) * 3 and config.models[1].normalisation.std == (2.0, 4.0, 5.0)
    from edge.pipeline_config import models_from_entries, parse_model_option

    (spec,) = models_from_entries([parse_model_option(f"{tiny_classifier},input_range=-1..1")], "--model")
    assert spec.normalisation.range() == (-1.0, 1.0)
    toml.write_text(f'[[model]]\npath = "{tiny_classifier}"\ninput_range = [1, 0]\n')
    with pytest.raises(ConfigError, match=r"p.toml: model 1: input_range .*LOW must be below HIGH"):
        load_config(toml)


def test_cli_input_range_reaches_the_model(tmp_path, tiny_classifier, cli):
    frame = np.zeros((16, 16, 3), np.uint8)
    frame[..., 2] = 51  # R
    image = tmp_path / "img.png"
    cv2.imwrite(str(image), frame)
    out = tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(tiny_classifier), "--input-range", "0,1", "--source", f"file://{image}",
               "--sink", f"jsonl://{out}", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "--input-range 0,1 given by the user, overriding mean 127.5 std 127.5" in proc.stderr
    top = json.loads(out.read_text().splitlines()[0])["classification"]
    assert {c["class_id"]: c["score"] for c in top} == {0: 0.2, 1: 0.0, 2: 0.0}
    bad = cli("run", "--model", str(tiny_classifier), "--std", "0", "--mean", "1", "--source", f"file://{image}",
              "--sink", "null://")
    assert bad.returncode == 2 and "--std '0': every value must be greater than 0" in bad.stderr


def test_edge_info_names_task_and_plan(zoo, cli):
    proc = cli("info", "--model", str(zoo / "models/mobilenet_v2_1.0_224_quant.tflite"))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "task: classify" in text and "plan (decided when the model loads):" in text
    assert "  family: classifier: one output [1, 1001]" in text
    assert "  resize: stretch, anti-aliased area downscale: Coral's classify_image.py" in text
    assert "  normalisation: mean 127.5 std 127.5 (pixels 0..255 -> -1..1): tflite-support" in text
    assert "  labels: 1001 from TFLITE_METADATA imagenet_labels.txt" in text
    for name, task in (("deeplabv3_257_mv_gpu.tflite", "segment"), ("lite-model_zero-dce_1.tflite", "enhance"),
                       ("movenet_single_pose_lightning_ptq.tflite", "pose")):
        proc = cli("info", "--model", str(zoo / "models" / name), "--json")
        report = json.loads(proc.stdout)
        assert report["task"] == task and report["plan"]["task"] == task, name
        assert {"family", "resize", "normalisation", "labels", "decoder"} <= set(report["plan"])


def test_edge_info_prints_user_values_and_warnings(tmp_path, tiny_classifier, cli):
    proc = cli("info", "--model", str(tiny_classifier), "--input-range", "0,255", "--json")
    plan = json.loads(proc.stdout)["plan"]
    assert plan["normalisation"].startswith("mean 0 std 1 (pixels 0..255 -> 0..255): --input-range 0,255 given by")
    unknown = mean_model(tmp_path / "two.tflite", outputs=2)
    plan = json.loads(cli("info", "--model", str(unknown), "--json").stdout)["plan"]
    assert plan["family"].startswith("unknown: no row of the recognition table matches its outputs (mean_0 [1, 3]")
    assert "normalisation 0..1 assumed" in plan["warnings"]
    bad = cli("info", "--model", str(tiny_classifier), "--input-range", "nan,1")
    assert bad.returncode == 2 and "--input-range 'nan,1'" in bad.stderr and "Traceback" not in bad.stderr


def test_area_resize_is_anti_aliased():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)
    area, t = resize_frame(noise, (100, 75), "stretch", "BGR", "area")
    linear, _ = resize_frame(noise, (100, 75), "stretch", "BGR", "linear")
    assert np.array_equal(area, cv2.resize(noise, (100, 75), interpolation=cv2.INTER_AREA))
    assert np.array_equal(linear, cv2.resize(noise, (100, 75), interpolation=cv2.INTER_LINEAR))
    assert area.std() < 0.3 * linear.std()  # a box average of 8x8 pixels (std / 8) vs 2x2 samples (std / 2)
    small = noise[:10, :10]
    up_area, _ = resize_frame(small, (40, 40), "stretch", "BGR", "area")
    assert np.array_equal(up_area, cv2.resize(small, (40, 40), interpolation=cv2.INTER_LINEAR))  # growing: bilinear
    box, t = resize_frame(noise[:300], (100, 100), "letterbox", "BGR", "area", pad_value=0)
    assert t.pad_y == 31 and t.scale_x == 0.125  # 800x300 -> 100x38, centred: 31 rows above, 31 below
    assert (box[:31] == 0).all() and (box[69:] == 0).all() and box[31:69].any()


@pytest.mark.parametrize("image, label", [("grace_hopper.bmp", "military uniform"), ("cat.bmp", "Egyptian cat")])
def test_classifier_upstream_answers_hold_on_a_large_frame(zoo, image, label):
    """Coral's answers with the area downscale, also from a 4x upscaled frame (a 2048-px-wide input)."""
    engine = Engine(zoo / "models/mobilenet_v2_1.0_224_quant.tflite", threads=2)
    assert engine.info.input.interpolation == "area"
    frame = cv2.imread(str(zoo / "images" / image))
    big = cv2.resize(frame, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    for f in (frame, big):
        result, _ = engine.run_frame(f, adapter_for("classify"), {})
        assert result.names[0] == label


def test_engine_run_and_pure_decoders_agree_with_the_adapters(zoo):
    from edge.tasks import classify, detect

    ssd = Engine(zoo / "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite", threads=2)
    frame = cv2.imread(str(zoo / "images/cats_and_dogs.jpg"))
    inference = ssd.run(frame)
    assert isinstance(inference, Inference) and set(inference.timing) == {"pre", "infer"}
    assert inference.frame_size == (frame.shape[1], frame.shape[0])
    pure = detect.decode(inference.outputs, ssd.info, inference.transform, {"score": 0.5})
    via_adapter, timing = ssd.run_frame(frame, adapter_for("detect"), {"score": 0.5})
    assert set(timing) == {"pre", "infer", "post"}
    assert np.allclose(pure.boxes, via_adapter.boxes) and pure.class_ids.tolist() == via_adapter.class_ids.tolist()
    net = Engine(zoo / "models/mobilenet_v2_1.0_224_quant.tflite", threads=2)
    inf = net.run(cv2.imread(str(zoo / "images/cat.bmp")))
    assert classify.decode(inf.outputs, net.info, inf.transform, {}).names[0] == "Egyptian cat"


def test_negative_models_are_recognised_but_refused_at_load(zoo):
    info = model_info(read_model_file(zoo / "models/mobilenet_v1_0.25_128_quant_edgetpu_NEGATIVE.tflite"))
    assert info.task == "classify"  # recognised from its structure ...
    with pytest.raises(ModelError, match="edgetpu-custom-op"):  # ... and refused clearly when it would run
        Engine(zoo / "models/mobilenet_v1_0.25_128_quant_edgetpu_NEGATIVE.tflite")
    with pytest.raises(ModelError, match="Landmarks2TransformMatrix"):
        Engine(zoo / "models/face_landmark_with_attention_CUSTOMOP_NEGATIVE.tflite")


def test_engine_run_cuts_a_rotated_region_through_the_same_plan(zoo):
    """MediaPipe landmark crops: Engine.run(frame, region=rect) == the crop prepared by hand, then invoked."""
    from edge.preprocess import to_input_tensor
    from edge.rotated_rect import RotatedRect, crop

    engine = Engine(zoo / "models/hand_landmark_lite.tflite", threads=2)
    frame = cv2.imread(str(zoo / "images/hagrid_call_0413d5c5.jpg"))
    rect = RotatedRect(360.0, 160.0, 180.0, 180.0, 0.4)
    inference = engine.run(frame, region=rect)
    assert inference.transform is None and inference.region is rect
    assert inference.frame_size == (frame.shape[1], frame.shape[0])
    spec = engine.info.input
    img = cv2.cvtColor(crop(frame, rect, (spec.width, spec.height), 0), cv2.COLOR_BGR2RGB)
    by_hand = engine.infer(to_input_tensor(img, spec.dtype, spec.mean, spec.std, spec.scale, spec.zero_point))
    for name, value in by_hand.items():
        assert np.array_equal(value, inference.outputs[name])


@pytest.mark.parametrize("units", ["normalized", "pixels"])
def test_raw_head_box_units_are_decided_once_at_load(tmp_path, cli, units):
    """A structure-only raw head (no metadata) does not say its box units: the Engine decides them when it loads
    the model, from one inference on a grey frame, and every frame is then decoded with them; edge info shows
    the decision. The head is a constant (tests/edge/tflite_writer.py): 40 anchors over a 32-px input."""
    from edge.tasks import detect

    from .tflite_writer import build_model

    size, n = 32, 40
    head = np.zeros((1, n, 4 + 2), np.float32)
    head[0, :, 0] = np.linspace(0.05, 0.95, n)  # anchor centres across the input
    head[0, :, 1], head[0, :, 2:4] = 0.5, 0.1
    head[0, 7, 4] = 0.9  # one confident box of class 0 at cx = 0.05 + 7 * 0.9 / 39
    if units == "pixels":
        head[0, :, :4] *= size
    model = tmp_path / f"{units}.tflite"
    model.write_bytes(build_model([1, size, size, 3], {"detections": head}))
    assert model_info(read_model_file(model)).decode["box_units"] == "auto"
    engine = Engine(model, threads=1)
    assert engine.info.decode["box_units"] == units
    assert engine.info.decode["box_units_why"].startswith("decided when the model loaded")
    frame = np.zeros((64, 128, 3), np.uint8)  # a black frame: the decision is not redone on it
    inference = engine.run(frame)
    dets = detect.decode(inference.outputs, engine.info, inference.transform, {"score": 0.5, "iou": 0.5,
                                                                               "max_detections": 10})
    cx = (0.05 + 7 * 0.9 / 39) * 128
    assert len(dets) == 1 and dets.boxes[0].tolist() == pytest.approx([cx - 6.4, 32 - 3.2, cx + 6.4, 32 + 3.2], abs=0.01)
    with pytest.raises(MetadataError, match="decided when the Engine loads"):
        detect.decode(inference.outputs, model_info(read_model_file(model)), inference.transform, {"score": 0.5})
    report = json.loads(cli("info", "--model", str(model), "--json").stdout)
    assert report["decode"]["box_units"] == units and "grey frame" in report["decode"]["box_units_why"]
