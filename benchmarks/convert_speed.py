"""Keras -> TFLite conversion time: ``from_keras_model`` (TensorFlow's way) against export's saved serving graph
(export/convert.py::ServingGraph), side by side in one process, and proof that both give the same model.

    .venv/bin/python benchmarks/convert_speed.py [--size 64] [--width 0.35] [--formats float32,int8,float16]
                                                 [--run runs/NAME]

Builds train's detector (or loads a run's model.keras with --run), then per format converts it both ways, in
alternation, and prints the seconds of each and their ratio. Each pair of files must agree: the same input and
output tensor names, shapes, dtypes and quantisation parameters, the same signature, and outputs within one
quantisation step (float: 1e-5) on the same random inputs; the script exits 1 when they do not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _keras_way(model, fmt, representative) -> bytes:
    import tensorflow as tf

    from export import convert

    converter = convert.make_converter(model, fmt, representative)
    legacy = tf.lite.TFLiteConverter.from_keras_model(model)
    for name in ("optimizations", "representative_dataset", "inference_input_type", "inference_output_type",
                 "_experimental_disable_per_channel_quantization_for_dense_layers"):
        setattr(legacy, name, getattr(converter, name))
    legacy.target_spec = converter.target_spec
    return bytes(legacy.convert())


def _tensors(model_bytes: bytes) -> tuple[list, list, dict]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_bytes)
    interp.allocate_tensors()
    pick = lambda d: (d["name"], tuple(d["shape"]), np.dtype(d["dtype"]).name, d["quantization"])  # noqa: E731
    return ([pick(d) for d in interp.get_input_details()], [pick(d) for d in interp.get_output_details()],
            interp.get_signature_list())


def _outputs(model_bytes: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_bytes)
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    out = []
    for x in inputs:
        if np.issubdtype(detail["dtype"], np.integer):
            scale, zero = detail["quantization"]
            x = np.clip(np.round(x / scale + zero), np.iinfo(detail["dtype"]).min, np.iinfo(detail["dtype"]).max)
        interp.set_tensor(detail["index"], x.astype(detail["dtype"]))
        interp.invoke()
        out.append([interp.get_tensor(d["index"]).astype(np.float64) for d in interp.get_output_details()])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--width", type=float, default=0.35)
    p.add_argument("--formats", default="float32,int8,float16")
    p.add_argument("--run", type=Path, default=None, help="a run folder: convert its model.keras instead")
    args = p.parse_args(argv)

    from export import convert
    from export.formats import parse_formats

    if args.run:
        model = convert.load_keras_model(args.run / "model.keras")
    else:
        from train.model import DetectorConfig, build_detector

        model = build_detector(DetectorConfig(num_classes=3, input_size=args.size, width=args.width),
                               allow_small=True)
    shape = [1] + [int(d) for d in model.inputs[0].shape[1:]]
    rng = np.random.default_rng(0)
    samples = rng.random((16, *shape[1:])).astype(np.float32)
    representative = convert.representative_from(samples)
    probes = [rng.random(shape).astype(np.float32) for _ in range(4)]
    print(f"model {model.name}: {model.count_params()} parameters, {len(model.layers)} layers, input {shape}")
    print(f"{'format':<14} {'from_keras_model s':>18} {'serving graph s':>16} {'ratio':>7}  same model")
    failed = False
    for fmt in parse_formats(args.formats):
        rep = representative if fmt.calibrate else None
        t0 = time.perf_counter()
        legacy = _keras_way(model, fmt, rep)
        t1 = time.perf_counter()
        convert._SERVING.clear()  # the serving graph's save is part of its first conversion's time
        ours = bytes(convert.make_converter(model, fmt, rep).convert())
        t2 = time.perf_counter()
        again = bytes(convert.make_converter(model, fmt, rep).convert())  # the next format of the same model
        t3 = time.perf_counter()
        same_tensors = _tensors(legacy) == _tensors(ours)
        step = max([q[3][0] for q in _tensors(ours)[1] if q[3][0]] or [1e-5])
        diff = max(np.abs(a - b).max() for la, lb in zip(_outputs(legacy, probes), _outputs(ours, probes))
                   for a, b in zip(la, lb))
        ok = same_tensors and diff <= step * 1.01 and len(again) == len(ours)
        failed |= not ok
        print(f"{fmt.name:<14} {t1 - t0:>18.1f} {t2 - t1:>16.1f} {(t1 - t0) / (t2 - t1):>6.1f}x  "
              f"{'yes' if ok else 'NO'} (names/shapes/quant {'equal' if same_tensors else 'DIFFER'}, "
              f"max output diff {diff:.2g}; next format from the saved graph {t3 - t2:.1f} s)")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
