"""The recognition table: which model family a .tflite file belongs to, its task, and how to feed it.

``FAMILIES`` is a tuple of ``Family`` rows, tried in order; the first row whose ``match`` returns a
``Match`` wins, so specific rows come before general ones. ``recognise(mf, hints)`` runs the table.
``edge.metadata.model_info`` calls it once, when a model is loaded, and turns the winning row into the
model's ``ModelInfo`` (task, decode dict, output roles) and its preprocessing ``Plan``; nothing here runs
per frame. ``docs/models.md`` describes every row and how closely its output matches upstream.

A row (``Family``):

* ``name``: short id, printed by ``edge info`` and used in docs/models.md.
* ``task``: detect | pose | segment | enhance | classify (the adapter in ``edge.tasks``).
* ``recognised_by``: one line saying what in the file identifies the family.
* ``match(mf, hints) -> Match | None``: pure; reads the ``ModelFile`` (ops, tensors, appended files) and
  ``Hints`` (what the file's metadata says). Returns the decode dict, the output roles and a reason.
* ``resize``: the family's upstream resize (``Resize``: stretch or letterbox, pad value, interpolation,
  and why).
* ``float_input``: the input range a float input without normalisation metadata gets (``Normalisation``),
  or ``None`` when upstream documents none; then the runtime says it assumes 0..1 (``--input-range``).
* ``decoder``: the module that decodes it (``edge.tasks.<task>`` unless said otherwise).

To add a family: write its decoder, then add a row here (before the more general rows it overlaps with).
A ``Match`` may carry what the family's own metadata says (labels, a resize or normalisation that
overrides the row's), e.g. names read from a zip appended to the file.

Normalisation, in order: the user's ``--input-range`` / ``--mean --std`` (printed); our metadata or
tflite-support NormalizationOptions; a quantized integer input takes raw pixels (its quantization maps
0..255 to the model's range); the row's ``float_input``; else 0..1, flagged as assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .errors import ConfigError, MetadataError
from .model_file import ModelFile, TensorInfo
from .model_spec import Normalisation, Resize, input_from_tensor, quantization_of
from .ultralytics import recognise_ultralytics

EDGEVISION_KEY = "edgevision"
SSD_POSTPROCESS_OP = "TFLite_Detection_PostProcess"
SSD_ROLES = ("boxes", "classes", "scores", "count")  # the op's output order, fixed by the op itself


@dataclass(frozen=True)
class Hints:
    """What the file's metadata says, for rows that recognise by it (filled by edge.metadata)."""

    tflite_support: bool = False
    model_name: str = ""  # tflite-support ModelMetadata.name
    label_files: tuple[str, ...] = ()  # label files attached to output tensors
    normalisation: bool = False  # tflite-support NormalizationOptions present


@dataclass(frozen=True)
class Match:
    decode: dict
    outputs: tuple[tuple[str, str, tuple[int, ...]], ...]  # (tensor name, role, shape)
    why: str
    labels: tuple[str, ...] = ()  # labels the family's own metadata carries
    labels_source: str = ""
    resize: Resize | None = None  # None: the row's
    normalisation: Normalisation | None = None  # None: metadata, quantization, the row's float_input
    task: str | None = None  # None: the row's
    info: object = None  # a whole ModelInfo, when the family's own reader builds it (e.g. edge.ultralytics)


@dataclass(frozen=True)
class Family:
    name: str
    task: str
    recognised_by: str
    match: Callable[[ModelFile, Hints], Match | None] = field(repr=False)
    resize: Resize = Resize()
    float_input: Normalisation | None = None
    decoder: str = ""
    upstream: str = ""

    @property
    def decoder_module(self) -> str:
        return self.decoder or f"edge.tasks.{self.task}"


# ---------------------------------------------------------------- helpers for match functions


def shapes(tensors: list[TensorInfo]) -> str:
    return ", ".join(f"{t.name or '?'} {list(t.shape)}" for t in tensors)


def _outs(mf: ModelFile) -> list[TensorInfo]:
    return mf.main.output_tensors()


def _input(mf: ModelFile) -> TensorInfo:
    return mf.main.input_tensors()[0]


def _producer(mf: ModelFile, tensor: TensorInfo) -> str:
    for op in mf.main.operators:
        if tensor.index in op.outputs:
            return op.opcode.name
    return ""


def _image_hw(t: TensorInfo) -> tuple[int, int] | None:
    return (t.shape[1], t.shape[2]) if len(t.shape) == 4 else None


# ---------------------------------------------------------------- the first set's families


def _match_edgevision(mf: ModelFile, hints: Hints) -> Match | None:
    if EDGEVISION_KEY not in mf.metadata:
        return None
    return Match({}, (), f"an {EDGEVISION_KEY!r} metadata entry (written by export/)")


def _match_ssd(mf: ModelFile, hints: Hints) -> Match | None:
    ops = [op for op in mf.main.operators if op.opcode.name == SSD_POSTPROCESS_OP]
    if not ops:
        return None
    op = ops[0]
    if len(op.outputs) != 4:
        raise MetadataError(f"{mf.path}: {SSD_POSTPROCESS_OP} has {len(op.outputs)} outputs, expected 4")
    t = mf.main.tensors
    outputs = tuple((t[i].name, role, t[i].shape) for i, role in zip(op.outputs, SSD_ROLES))
    return Match({"kind": "ssd_postprocess"}, outputs, f"a {SSD_POSTPROCESS_OP} op")


def _match_movenet(mf: ModelFile, hints: Hints) -> Match | None:
    outs = _outs(mf)
    if len(outs) == 1 and len(outs[0].shape) == 4 and outs[0].shape[:2] == (1, 1) and outs[0].shape[3] == 3:
        return Match({"kind": "movenet_single"}, ((outs[0].name, "keypoints", outs[0].shape),),
                     f"one output {list(outs[0].shape)} (y, x, score per keypoint)")
    return None


def _match_posenet(mf: ModelFile, hints: Hints) -> Match | None:
    from .tasks import posenet

    outs = _outs(mf)
    roles = posenet.recognise([(t.name, tuple(t.shape)) for t in outs])
    if roles is None:
        return None
    layout = "mid offsets" if "mid_offsets" in roles.values() else "forward/backward displacements"
    return Match({"kind": "posenet", "family": "posenet"}, tuple((t.name, roles[t.name], t.shape) for t in outs),
                 f"outputs on one grid: heatmaps (17), short offsets (34) and {layout} ({shapes(outs)})")


def _match_zero_dce(mf: ModelFile, hints: Hints) -> Match | None:
    outs, inp = _outs(mf), _input(mf)
    if (len(outs) == 1 and not hints.label_files and inp.dtype == "float32" and len(inp.shape) == 4
            and inp.shape[3] == 3 and outs[0].shape == inp.shape):
        return Match({"kind": "image"}, ((outs[0].name, "image", outs[0].shape),),
                     f"one float output shaped like its image input {list(inp.shape)} (the enhanced image)")
    return None


def _match_segmenter(mf: ModelFile, hints: Hints) -> Match | None:
    outs, inp = _outs(mf), _input(mf)
    if len(outs) != 1 or len(inp.shape) != 4:
        return None
    out = outs[0]
    if _producer(mf, out) == "ARG_MAX" and len(out.shape) in (3, 4):
        return Match({"kind": "argmax"}, ((out.name, "segmentation_classes", out.shape),),
                     f"one output {list(out.shape)} made by a final ARG_MAX (a class map)")
    if len(out.shape) == 4 and out.shape[3] >= 2 and out.shape[1] * 8 >= inp.shape[1] and out.shape[2] * 8 >= inp.shape[2]:
        why = f"one output {list(out.shape)}: a {out.shape[3]}-class score map at 1/8 of the input or finer"
        if hints.label_files:
            why += f", tflite-support label file {hints.label_files[0]}"
        return Match({"kind": "logits"}, ((out.name, "segmentation_logits", out.shape),), why)
    return None


def _match_probability_segmenter(mf: ModelFile, hints: Hints) -> Match | None:
    outs, inp = _outs(mf), _input(mf)
    if len(outs) != 1 or len(inp.shape) != 4 or inp.dtype != "float32" or hints.label_files:
        return None
    out = outs[0]
    if out.shape == (1, inp.shape[1], inp.shape[2], 1) and _producer(mf, out) == "LOGISTIC":
        return Match({"kind": "probability"}, ((out.name, "segmentation_probability", out.shape),),
                     f"one output {list(out.shape)} at the input's size made by a final LOGISTIC (a foreground "
                     f"probability, e.g. MediaPipe's selfie segmenter)", ("background", "person"),
                     "the family (class 1 = probability > 0.5)")
    return None


def _match_classifier(mf: ModelFile, hints: Hints) -> Match | None:
    outs = _outs(mf)
    if len(outs) == 1 and len(outs[0].shape) == 2 and outs[0].shape[0] == 1 and outs[0].shape[1] >= 2 \
            and len(_input(mf).shape) == 4:
        why = f"one output {list(outs[0].shape)} (a score per class)"
        if hints.label_files:
            why += f", tflite-support label file {hints.label_files[0]}"
        return Match({}, ((outs[0].name, "scores", outs[0].shape),), why)
    return None


def _match_raw_head(mf: ModelFile, hints: Hints) -> Match | None:
    outs = _outs(mf)
    raw = [t for t in outs if len(t.shape) == 3 and t.dtype in ("float32", "int8", "uint8")
           and min(t.shape[1:]) >= 5 and max(t.shape[1:]) >= 4 * min(t.shape[1:])]
    if len(outs) != 1 or not raw:
        return None
    t = raw[0]
    layout = "channels_first" if t.shape[1] < t.shape[2] else "anchors_first"
    decode = {"kind": "raw_boxes_scores", "layout": layout, "box_format": "cxcywh", "box_units": "auto",
              "score_activation": "none"}
    return Match(decode, ((t.name, "raw_boxes_scores", t.shape),),
                 f"one output {list(t.shape)}: 4 box values + class scores per anchor ({layout})")


def _match_ultralytics_kind(kind: str):
    def match(mf: ModelFile, hints: Hints) -> Match | None:
        info = recognise_ultralytics(mf, input_from_tensor(mf.main), quantization_of(mf.main))
        if info is None or info.decode.get("kind") != kind:
            return None
        heads = ", ".join(f"{o.name} {list(o.shape)}" for o in info.outputs)
        if kind == "ultralytics":
            why = (f"Ultralytics metadata ({info.source}, task {info.decode.get('head')}, "
                   f"{'end-to-end' if info.decode.get('end2end') else 'NMS here'}): {heads}")
        else:
            why = f"one output {heads}: 3 anchors per cell at strides 8/16/32, 5 + classes values (no metadata)"
        outputs = tuple((o.name, o.role, tuple(o.shape)) for o in info.outputs)
        return Match(dict(info.decode), outputs, why, info.labels, info.labels_source, info=info)
    return match


def _match_mediapipe_ssd(mf: ModelFile, hints: Hints) -> Match | None:
    from .tasks import mediapipe_ssd

    t, outs = _input(mf), _outs(mf)
    if len(t.shape) != 4 or t.dtype != "float32":
        return None
    plan = mediapipe_ssd.recognise((t.shape[2], t.shape[1]), [tuple(o.shape) for o in outs])
    if plan is None:
        return None
    roles = tuple((o.name, "ssd_scores" if o.shape[-1] == 1 else "ssd_regressors", o.shape) for o in outs)
    why = f"two outputs {shapes(outs)}: SSD regressors + scores over {plan['num_anchors']} anchors"
    if not plan["anchors"]:
        return Match(plan, roles, why + "; no known anchor table fits: name one with --anchors")
    cfg = mediapipe_ssd.KNOWN[plan["anchors"]]
    mean, std = mediapipe_ssd.input_normalisation(cfg.input_range)
    lo, hi = cfg.input_range
    return Match(plan, roles, why + f", anchor table {cfg.name} ({cfg.what})", cfg.labels,
                 f"MediaPipe anchor table ({cfg.name})",
                 normalisation=Normalisation((mean,), (std,), f"MediaPipe's graph for {cfg.name} feeds {lo:g}..{hi:g}"))


def _match_mediapipe_landmarks(mf: ModelFile, hints: Hints) -> Match | None:
    from .tasks import landmarks

    t, outs = _input(mf), _outs(mf)
    if len(t.shape) != 4 or t.dtype != "float32":
        return None
    plan = landmarks.recognise((t.shape[2], t.shape[1]), [tuple(o.shape) for o in outs])
    if plan is None:
        return None
    return Match(plan, tuple((o.name, "output", o.shape) for o in outs),
                 f"MediaPipe {plan['family']} landmark model: input {t.shape[2]}x{t.shape[1]}, outputs {shapes(outs)}")


_TFLITE_SUPPORT_RESIZE = ("tflite-support's task library resizes with libyuv ARGBScale kFilterBilinear "
                          "(2-tap bilinear, not a box filter)")
MINUS_ONE_ONE = Normalisation((127.5,), (127.5,))  # one value: every channel (Normalisation.for_channels)
ZERO_ONE = Normalisation((0.0,), (255.0,))
RAW_PIXELS = Normalisation((0.0,), (1.0,))

FAMILIES: tuple[Family, ...] = (
    Family("edgevision", "(from metadata)", "our 'edgevision' metadata entry (task, input, outputs, labels)",
           _match_edgevision, Resize(why="as the metadata says (export/ writes what training used)"),
           decoder="edge.tasks.<task> by the metadata's decode.kind", upstream="this project's train/ and export/"),
    Family("ultralytics", "detect", "Ultralytics metadata appended to the file (metadata.json or temp_meta.txt "
           "in a zip): names, imgsz, task, kpt_shape, end2end", _match_ultralytics_kind("ultralytics"),
           Resize("letterbox", "linear", 114, "Ultralytics LetterBox: centred, pad 114, cv2.INTER_LINEAR"),
           ZERO_ONE.because("Ultralytics: RGB / 255"),
           decoder="edge.tasks.yolo", upstream="ultralytics YOLO(...).predict (see the yolo section below)"),
    Family("yolov5_anchors", "detect", "one output [1, 3 x cells at strides 8/16/32, 5 + C], no metadata (classic "
           "YOLOv5)", _match_ultralytics_kind("yolov5_anchors"),
           Resize("letterbox", "linear", 114, "YOLOv5 letterbox (auto=False for TFLite), pad 114"),
           ZERO_ONE.because("YOLOv5 detect.py: RGB / 255"), decoder="edge.tasks.yolo",
           upstream="ultralytics/yolov5 detect.py"),
    Family("ssd_postprocess", "detect", f"a {SSD_POSTPROCESS_OP} op (TF Object Detection API SSD export)",
           _match_ssd, Resize(why="upstream's expected boxes are made after a plain resize; " + _TFLITE_SUPPORT_RESIZE),
           MINUS_ONE_ONE.because("TF Object Detection API SSD convention (x - 127.5) / 127.5"),
           upstream="tflite-support ObjectDetector"),
    Family("mediapipe_ssd", "detect", "two float outputs [1, N, 4 + 2K] + [1, N, 1], N = the anchors of a known "
           "MediaPipe anchor table for that input size (BlazeFace, BlazePalm, BlazePose detector)",
           _match_mediapipe_ssd,
           Resize("letterbox_mediapipe", "linear", 0, "MediaPipe ImageToTensorCalculator, keep_aspect_ratio, "
                  "zero border, bilinear"),
           decoder="edge.tasks.mediapipe_ssd", upstream="MediaPipe Tasks FaceDetector / HandLandmarker"),
    Family("mediapipe_landmarks", "landmarks", "MediaPipe hand (224, [1,63] x2 + 2 flags), face mesh (192, "
           "[1,1,1,1404]) or BlazePose (256, 5 outputs) landmark model", _match_mediapipe_landmarks,
           Resize("letterbox_mediapipe", "linear", 0, "MediaPipe ImageToTensorCalculator on the rotated ROI crop"),
           ZERO_ONE.because("MediaPipe's landmark graphs feed 0..1"), decoder="edge.tasks.landmarks",
           upstream="MediaPipe Solutions hands / face_mesh / pose"),
    Family("movenet_single", "pose", "one output [1, 1, 17, 3] (MoveNet SinglePose: y, x, score)",
           _match_movenet,
           Resize(why="pycoral's movenet_pose_estimation.py resizes the whole image (the first zoo set's reference); "
                      "tensorflow/examples pads to a square first, measured no closer to its truth file "
                      "(docs/models.md)"),
           RAW_PIXELS.because("MoveNet takes pixel values 0..255 (TF Hub model card)"),
           upstream="tensorflow/examples lite/examples/pose_estimation movenet.py"),
    Family("posenet", "pose", "outputs on one H x W grid: heatmaps [1,H,W,17], short offsets [1,H,W,34], and "
           "mid offsets [1,H,W,64] or two [1,H,W,32] displacement maps",
           _match_posenet, Resize(why="tensorflow/examples posenet.py: cv2.resize to the input size"),
           MINUS_ONE_ONE.because("tensorflow/examples posenet.py: (x - 127.5) / 127.5"),
           upstream="PoseNet multi-person decoding (TensorFlow.js / tensorflow/examples)"),
    Family("zero_dce", "enhance", "one float output shaped like its [1, H, W, 3] input, no labels",
           _match_zero_dce, Resize(why="Zero-DCE takes the whole image at its fixed input size (plain resize)"),
           ZERO_ONE.because("Zero-DCE takes RGB / 255 (keras.io Zero-DCE, TF Hub lite-model)"),
           upstream="TF Hub sayannath/lite-model/zero-dce/1"),
    Family("deeplab", "segment", "one output: a final ARG_MAX class map, or a [1, h, w, C>=2] score map",
           _match_segmenter,
           Resize(interpolation="area",
                  why="Coral's semantic_segmentation.py resizes with PIL ANTIALIAS (anti-aliased); "
                      + _TFLITE_SUPPORT_RESIZE),
           MINUS_ONE_ONE.because("DeepLab (TF models research/deeplab) takes (x - 127.5) / 127.5"),
           upstream="tflite-support ImageSegmenter; pycoral examples/semantic_segmentation.py"),
    Family("selfie_segmenter", "segment", "one float output [1, H, W, 1] at the input's H x W from a final "
           "LOGISTIC (a person / foreground probability)", _match_probability_segmenter,
           Resize(why="MediaPipe's ImageSegmenter stretches the whole image to the input (no aspect kept)"),
           ZERO_ONE.because("MediaPipe's selfie segmentation graph feeds 0..1"),
           upstream="MediaPipe Tasks ImageSegmenter (selfie_segmentation_landscape)"),
    Family("classifier", "classify", "one output [1, C], C >= 2 (MobileNet-style image classifier)",
           _match_classifier,
           Resize(interpolation="area",
                  why="Coral's classify_image.py resizes with PIL ANTIALIAS (anti-aliased); "
                      + _TFLITE_SUPPORT_RESIZE),
           MINUS_ONE_ONE.because("float MobileNet classifiers take (x - 127.5) / 127.5 (TF-slim / Keras "
                                      "mobilenet preprocess_input, TFLite label_image defaults)"),
           upstream="pycoral examples/classify_image.py; tflite-support ImageClassifier"),
    Family("raw_boxes_scores", "detect", "one 3-D output [1, N, 4 + C] or [1, 4 + C, N], N >= 4 (4 + C)",
           _match_raw_head, Resize(why="a generic raw head: no upstream resize is known (a stretch)"),
           ZERO_ONE.because("YOLO-style heads are trained on RGB / 255"),
           upstream="YOLO-style raw heads (generic)"),
)


def recognise(mf: ModelFile, hints: Hints) -> tuple[Family, Match] | tuple[None, None]:
    """The first row of ``FAMILIES`` whose match accepts the file, with its Match; (None, None) if none does."""
    for family in FAMILIES:
        found = family.match(mf, hints)
        if found is not None:
            return family, found
    return None, None


def family_named(name: str) -> Family:
    for family in FAMILIES:
        if family.name == name:
            return family
    raise ConfigError(f"unknown model family {name!r}; known: {', '.join(f.name for f in FAMILIES)}")
