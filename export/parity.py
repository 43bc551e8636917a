"""Parity: the converted model's outputs against the Keras model's, on the same preprocessed images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT32_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ParityResult:
    max_abs_diff: float
    mean_abs_diff: float
    images: int
    tolerance: float | None  # None where no tolerance applies (quantised formats: reported, not gated)

    @property
    def ok(self) -> bool:
        return self.tolerance is None or self.max_abs_diff <= self.tolerance


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if not np.issubdtype(detail["dtype"], np.integer):
        return x.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(detail["dtype"])


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if not np.issubdtype(detail["dtype"], np.integer) or not scale:  # float, or plain integers (a class map)
        return y.astype(np.float32)
    return ((y.astype(np.float32) - zero) * scale).astype(np.float32)


def tflite_outputs(model_bytes: bytes, samples: np.ndarray, output_key: str, threads: int = 1) -> np.ndarray:
    """Run every sample through the model's signature; return the dequantised ``output_key`` (N, ...)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes, num_threads=threads)
    runner = interpreter.get_signature_runner()
    (input_key, input_detail), = runner.get_input_details().items()
    output_detail = runner.get_output_details()[output_key]
    outs = []
    for sample in samples:
        result = runner(**{input_key: _quantize(sample[None, ...], input_detail)})
        outs.append(_dequantize(result[output_key], output_detail)[0])
    return np.stack(outs)


def keras_outputs(model, samples: np.ndarray, output_key: str | None = None) -> np.ndarray:
    """The Keras model's output ``output_key`` (by output name; a single-output model needs none)."""
    out = model.predict(samples, batch_size=8, verbose=0)
    if isinstance(out, dict):
        out = out[output_key]
    elif isinstance(out, (list, tuple)):
        out = out[list(model.output_names).index(output_key)]
    return np.asarray(out, dtype=np.float32)


def compare(model, model_bytes: bytes, samples: np.ndarray, output_key: str | list[str], tolerance: float | None,
            threads: int = 1) -> ParityResult:
    """Max and mean absolute difference between Keras and TFLite outputs over ``samples``; with several output
    keys, the largest difference of any output and the mean over all of their values."""
    keys = [output_key] if isinstance(output_key, str) else list(output_key)
    diffs = []
    for key in keys:
        expected = keras_outputs(model, samples, key)
        got = tflite_outputs(model_bytes, samples, key, threads)
        if expected.shape != got.shape and expected.size == got.size:  # e.g. an int32 class map read as float
            got = got.reshape(expected.shape)
        diffs.append(np.abs(expected - got.astype(np.float32)).reshape(-1))
    diff = np.concatenate(diffs)
    return ParityResult(float(diff.max()), float(diff.mean()), len(samples), tolerance)
