"""Keras model -> TFLite bytes for one row of the format table."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .errors import CalibrationError, RunFolderError
from .formats import ExportFormat

Representative = Callable[[], Iterable[list[np.ndarray]]]


def load_keras_model(path: str | Path):
    """Load a run's model.keras with train's loader (it registers the model's custom layers)."""
    from train.saved_model import load_model

    try:
        return load_model(str(path))
    except (OSError, ValueError, TypeError) as exc:
        raise RunFolderError(f"{path}: cannot load the Keras model ({exc})") from exc


def _tf_dtype(name: str):
    import tensorflow as tf

    return getattr(tf, name)


class ServingGraph:
    """A Keras model's inference function saved once as a SavedModel holding only its variables and one
    ``serving_default`` signature, for every format converted from it.

    ``TFLiteConverter.from_keras_model`` saves the whole Keras object graph (every layer's call functions, a
    trace each) to a temporary SavedModel on every conversion: measured 62 of 69 s of converting the 64x64
    MobileNetV2 detector on 2 cores, against 5 s of actual conversion. This SavedModel holds what the converter
    reads (the same signature names: the Keras input names in, the Keras output names out) and is written in a
    few seconds; converting from it gives the same graph (benchmarks/convert_speed.py measures both).
    The weights are fingerprinted: a model trained further after saving is saved anew, never converted stale.
    """

    def __init__(self, model):
        import tempfile

        import tensorflow as tf

        self.model = model
        self.fingerprint = _weights_fingerprint(model)
        self._dir = tempfile.TemporaryDirectory(prefix="edgevision-serving-")
        specs = [tf.TensorSpec(t.shape, t.dtype, name=name) for name, t in zip(model.input_names, model.inputs)]
        names = list(model.output_names)

        def serve(*inputs):
            outputs = model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
            if isinstance(outputs, dict):  # a model built with a dict of outputs names them itself
                return dict(outputs)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return dict(zip(names, outputs))

        module = tf.Module()
        module.weights = list(model.variables)  # tracked here, so the signature's captured variables are saved
        module.serve = tf.function(serve, input_signature=specs)
        tf.saved_model.save(module, self._dir.name, signatures={"serving_default": module.serve})

    @property
    def path(self) -> str:
        return self._dir.name

    def current_for(self, model) -> bool:
        return model is self.model and _weights_fingerprint(model) == self.fingerprint

    def close(self) -> None:
        self._dir.cleanup()


def _weights_fingerprint(model) -> str:
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for w in model.weights:
        digest.update(np.ascontiguousarray(w.numpy()).tobytes())
    return digest.hexdigest()


_SERVING: list[ServingGraph] = []  # the last model converted (a variant's formats are converted one after another)


def serving_graph(model) -> ServingGraph:
    """The saved serving graph of ``model``, reused while the model and its weights are the same."""
    if _SERVING and _SERVING[0].current_for(model):
        return _SERVING[0]
    while _SERVING:
        _SERVING.pop().close()
    _SERVING.append(ServingGraph(model))
    return _SERVING[0]


def make_converter(model, fmt: ExportFormat, representative: Representative | None = None):
    """A TFLiteConverter configured from ``fmt``; pure settings, nothing converted yet."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(serving_graph(model).path)
    if fmt.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt.supported_ops:
        converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, op) for op in fmt.supported_ops]
    if fmt.supported_types:
        converter.target_spec.supported_types = [_tf_dtype(t) for t in fmt.supported_types]
    if fmt.input_type:
        converter.inference_input_type = _tf_dtype(fmt.input_type)
    if fmt.output_type:
        converter.inference_output_type = _tf_dtype(fmt.output_type)
    if fmt.per_tensor_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    if fmt.calibrate:
        if representative is None:
            raise CalibrationError(f"format {fmt.name!r} needs calibration samples; none were given")
        converter.representative_dataset = representative
    return converter


def convert(model, fmt: ExportFormat, representative: Representative | None = None,
            input_spec: dict | None = None) -> bytes:
    """Convert ``model`` to TFLite bytes as ``fmt`` says (``input_spec``: run.json "input", for pixel_input)."""
    model_bytes = bytes(make_converter(model, fmt, representative).convert())
    if fmt.pixel_input and input_spec is not None:
        model_bytes = pin_input_to_pixels(model_bytes, input_spec["mean"], input_spec["std"])
    return model_bytes


def representative_from(samples: np.ndarray) -> Representative:
    """A representative-dataset callable yielding each preprocessed float32 sample as a batch of one."""
    samples = np.asarray(samples, dtype=np.float32)

    def gen():
        for sample in samples:
            yield [sample[None, ...]]

    return gen


def float_ops(model_bytes: bytes) -> list[str]:
    """Names of the operators that read or write float32 tensors (an int8 model should have none)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes))
    found = []
    for graph in model.subgraphs:
        for op in graph.operators:
            tensors = [graph.tensors[i] for i in list(op.inputs) + list(op.outputs) if i >= 0]
            if any(t.type == 0 for t in tensors):  # TensorType.FLOAT32
                found.append(flatbuffer_utils.opcode_to_name(model, op.opcodeIndex))
    return found


def pin_input_to_pixels(model_bytes: bytes, mean, std) -> bytes:
    """Make a uint8 input take raw pixels: set its quantisation to scale 1/std, zero point mean.

    The converter derives the input's scale from the calibration images' range, which rarely spans exactly
    0..255 after resizing, so a camera frame would need rescaling on the device. The uint8 input only feeds
    a QUANTIZE op into the int8 graph; giving it the pixel grid (``real = (pixel - mean) / std``) keeps the
    arithmetic exact and lets the runtime copy pixels in. Needs one mean and one std for all channels, the
    mean an integer in 0..255; otherwise the model is returned unchanged.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    means, stds = {float(m) for m in mean}, {float(s) for s in std}
    if len(means) != 1 or len(stds) != 1:
        return model_bytes
    m, s = means.pop(), stds.pop()
    if not (m.is_integer() and 0 <= m <= 255 and s > 0):
        return model_bytes
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes))
    graph = model.subgraphs[0]
    (index,) = graph.inputs
    tensor = graph.tensors[index]
    consumers = [op for op in graph.operators if index in list(op.inputs)]
    names = {flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) for op in consumers}
    if tensor.type != 3 or names != {"QUANTIZE"}:  # TensorType.UINT8 feeding only QUANTIZE ops
        return model_bytes
    tensor.quantization.scale = np.array([1.0 / s], np.float32)
    tensor.quantization.zeroPoint = np.array([int(m)], np.int64)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
