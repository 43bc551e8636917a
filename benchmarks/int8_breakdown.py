"""Where int8 invoke time goes: the run's detector cut into parts, each part converted and timed interleaved.

    .venv/bin/python benchmarks/int8_breakdown.py runs/demo [--rounds 300] [--threads 1] [--size 320]

Parts (each a Keras sub-model of the run's trained detector, converted to float32 and to int8 with the export's
own format rows and calibration images, then timed the way benchmarks/int8_latency.py times them):

- ``backbone``: image -> the three MobileNetV2 feature maps (what feeds the neck);
- ``body``: image -> the three raw head maps (backbone, neck with its two nearest upsamplings, head convolutions);
  no grid decode;
- ``full``: the whole detector, decode included (what ``python -m export`` writes).

Each part's files are interleaved only with each other (as in int8_latency.py, so the caches hold one part's
weights, as they would on a device running one model). The differences between rows are the cost of the neck + head convolutions and of the in-model grid decode.
``--float-through N`` adds a ``mixed`` file of the full detector: the stem and MobileNetV2 blocks 0..N left in
float32 (float input), everything after them int8 (tf.lite's QuantizationDebugger with those nodes denylisted). For
every file it also prints which operators XNNPACK left to the built-in kernels (read from the interpreter's node
list after the default delegate is applied).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.int8_latency import _load, interleaved  # noqa: E402


def undelegated_ops(model_bytes: bytes) -> dict[str, int]:
    """Operator name -> count of the nodes the default XNNPACK delegate did not take (they run built-in kernels).

    The interpreter's node list keeps every original node plus one DELEGATE node per partition; a node runs
    outside XNNPACK when its output is read by a DELEGATE node or is a graph output not written by one, or when
    it feeds such a node. Walk back from the DELEGATE inputs and the graph outputs through non-delegate
    producers until a DELEGATE output is reached.
    """
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_bytes, num_threads=1)
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    delegate_out = {int(t) for o in ops if o["op_name"] == "DELEGATE" for t in o["outputs"]}
    producer = {int(t): o for o in ops if o["op_name"] != "DELEGATE" for t in o["outputs"]}
    todo = [int(t) for o in ops if o["op_name"] == "DELEGATE" for t in o["inputs"]]
    todo += [int(t) for t in interp._interpreter.OutputIndices()]
    seen: dict[int, str] = {}  # node index -> operator name, for the nodes outside XNNPACK
    while todo:
        t = todo.pop()
        if t in delegate_out or t not in producer or producer[t]["index"] in seen:
            continue
        op = producer[t]
        seen[op["index"]] = op["op_name"]
        todo.extend(int(i) for i in op["inputs"])
    return dict(collections.Counter(seen.values()))


def _part_models(run_dir: str, size: int | None, cuts: list[str]) -> dict[str, object]:
    from train.model import DetectorConfig, build_detector
    from export import convert
    from export.run_folder import load_run

    import tf_keras as keras

    run = load_run(run_dir)
    model = convert.load_keras_model(run.model_path)
    if size:
        m = run.spec["model"]
        config = DetectorConfig(num_classes=int(m["num_classes"]), input_size=size, width=float(m["width_multiplier"]),
                                neck_channels=int(m["neck_channels"])).validate()
        rebuilt = build_detector(config)
        rebuilt.set_weights(model.get_weights())
        model = rebuilt
    layer = model.get_layer
    feats = [layer(f"neck_lat{s}").input for s in (3, 4, 5)]
    raw = [layer(f"head{s}_out").output for s in model_strides(model)]
    parts = {f"to {c}": keras.Model(model.input, layer(c).output) for c in cuts}
    return {**parts, "backbone": keras.Model(model.input, feats), "body": keras.Model(model.input, raw), "full": model}


def mixed_model(model, rep, last_block: int) -> bytes:
    """The detector with the stem and blocks 0..``last_block`` in float32 and the rest int8 (float input)."""
    import re
    from dataclasses import replace

    import tensorflow as tf

    from export import convert
    from export.formats import FORMATS

    early = re.compile(r"/(Conv1|bn_Conv1|expanded_conv_|block_(\d+)_)")

    def is_early(name: str) -> bool:
        m = early.search(name)
        return bool(m) and (m.group(2) is None or int(m.group(2)) <= last_block)

    float_bytes = convert.convert(model, FORMATS["float32"])
    from ai_edge_litert.interpreter import Interpreter

    names = [d["name"] for d in Interpreter(model_content=float_bytes).get_tensor_details() if is_early(d["name"])]
    fmt = replace(FORMATS["int8"], input_type=None, supported_ops=("TFLITE_BUILTINS_INT8", "TFLITE_BUILTINS"))
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=convert.make_converter(model, fmt, rep), debug_dataset=rep,
        debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names))
    return bytes(debugger.get_nondebug_quantized_model())


def model_strides(model) -> list[int]:
    return sorted(int(l.name[4:-4]) for l in model.layers if l.name.startswith("head") and l.name.endswith("_out"))


def _convert_parts(run_dir: str, size: int | None, calib: int, cuts: list[str],
                   formats: list[str], float_through: int | None = None) -> dict[str, dict[str, bytes]]:
    from export import convert
    from export.calibration import preprocess
    from export.formats import FORMATS
    from export.run_folder import load_run
    from export.task_data import task_data

    run = load_run(run_dir)
    spec = dict(run.input, width=size, height=size) if size else run.input
    data = task_data(run)
    samples = np.stack([preprocess(data.frame(item), spec) for item in data.train[:calib]])
    out = {}
    rep = convert.representative_from(samples)
    for name, model in _part_models(run_dir, size, cuts).items():
        out[name] = {f: convert.convert(model, FORMATS[f], rep if FORMATS[f].calibrate else None, spec)
                     for f in ["float32", *formats]}
        if name == "full" and float_through is not None:
            out[name]["mixed"] = mixed_model(model, rep, float_through)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", nargs="?", default="runs/demo")
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--threads", default="1")
    p.add_argument("--size", type=int, default=None, help="rebuild the detector at this input size")
    p.add_argument("--calib-samples", type=int, default=50)
    p.add_argument("--cut", action="append", default=[], help="also time image -> this layer's output (repeatable)")
    p.add_argument("--formats", default="int8", help="formats compared with float32 (export.formats names)")
    p.add_argument("--float-through", type=int, default=None, metavar="N",
                   help="also time the full detector with the stem and blocks 0..N float32, the rest int8")
    args = p.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    parts = _convert_parts(args.run, args.size, args.calib_samples, args.cut, formats,
                           args.float_through)
    for name, models in parts.items():
        for fmt, b in models.items():
            print(f"{name:<28} {fmt:<12} {len(b) / 1024:7.0f} KiB  outside XNNPACK: {undelegated_ops(b) or 'none'}")
    for t in [int(x) for x in args.threads.split(",")]:
        print(f"\nthreads {t}, {args.rounds} interleaved rounds, load before {_load()}")
        # One part's files at a time: interleaving many models leaves every one's weights cold in the cache,
        # which penalises the 4x larger float32 weights and flatters int8.
        times = {f"{n}/{f}": ts for n, models in parts.items() for f, ts in interleaved(models, t, args.rounds).items()}
        print(f"{'part':<28} {'format':<12} {'p10 ms':>8} {'p50 ms':>8} {'/f32 p10':>8} {'/f32 p50':>8} {'per-round':>9}")
        for n, models in parts.items():
            f32 = times[f"{n}/float32"]
            for f in models:
                ts = times[f"{n}/{f}"]
                print(f"{n:<28} {f:<12} {np.percentile(ts, 10):8.3f} {np.median(ts):8.3f} "
                      f"{np.percentile(ts, 10) / np.percentile(f32, 10):8.2f} {np.median(ts) / np.median(f32):8.2f} "
                      f"{np.median(ts / f32):9.2f}")
        print(f"load after {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
