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


def tflite_outputs(model_bytes: bytes, samples: np.ndarray, output_keys: list[str],
                   threads: int = 1) -> dict[str, np.ndarray]:
    """Each key's outputs (N, ...) through edge's Engine: the interpreter package, input quantization and
    output dequantization the device uses. The samples are already normalised (model-space values)."""
    from edge.engine import Engine

    from .metadata import signature_outputs

    engine = Engine("the converted model", threads=threads, content=model_bytes)
    names = {o.key: o.tensor for o in signature_outputs(model_bytes)}
    outs: dict[str, list] = {key: [] for key in output_keys}
    for sample in samples:
        result = engine.infer(engine.quantize_input(sample[None, ...]))
        for key in output_keys:
            outs[key].append(result[names[key]][0])
    return {key: np.stack(values) for key, values in outs.items()}


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
    converted = tflite_outputs(model_bytes, samples, keys, threads)
    for key in keys:
        expected = keras_outputs(model, samples, key)
        got = converted[key]
        if expected.shape != got.shape and expected.size == got.size:  # e.g. an int32 class map read as float
            got = got.reshape(expected.shape)
        diffs.append(np.abs(expected - got.astype(np.float32)).reshape(-1))
    diff = np.concatenate(diffs)
    return ParityResult(float(diff.max()), float(diff.mean()), len(samples), tolerance)
