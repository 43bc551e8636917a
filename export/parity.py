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
    if not np.issubdtype(detail["dtype"], np.integer):
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


def keras_outputs(model, samples: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(samples, batch_size=8, verbose=0), dtype=np.float32)


def compare(model, model_bytes: bytes, samples: np.ndarray, output_key: str, tolerance: float | None,
            threads: int = 1) -> ParityResult:
    """Max and mean absolute difference between Keras and TFLite outputs over ``samples``."""
    expected = keras_outputs(model, samples)
    got = tflite_outputs(model_bytes, samples, output_key, threads)
    diff = np.abs(expected - got)
    return ParityResult(float(diff.max()), float(diff.mean()), len(samples), tolerance)
