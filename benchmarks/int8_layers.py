"""int8 vs float32 per layer shape on this host's XNNPACK: is int8 slow everywhere, or only on thin layers?

    .venv/bin/python benchmarks/int8_layers.py [--rounds 200] [--threads 1] [--side 48] [--channels 8,16,32,64,128,256]

For each channel count C it builds one-layer tf_keras models on a side x side x C input: a 1x1 convolution C -> C
(a GEMM: where int8 dot-product instructions help), a 3x3 depthwise convolution (memory-bound), and the
detector's stem (3x3 stride-2 convolution 3 -> C on a 2*side image). Each model (folded with a ReLU6, as the
detector's layers are) is converted to float32 and to int8 with int8 input and output (the export's
``int8_int8io`` row, so no QUANTIZE of a uint8 input is timed; calibrated on random inputs: latency does not
depend on the values); each float32/int8 pair is timed interleaved in one process, as
benchmarks/int8_latency.py does. Prints the int8/float32 ratio per layer and C.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.int8_latency import _load, interleaved  # noqa: E402

def one_layer(kind: str, side: int, channels: int):
    import tf_keras as keras

    if kind == "stem 3x3/2":
        x = inp = keras.Input((2 * side, 2 * side, 3))
        x = keras.layers.Conv2D(channels, 3, 2, padding="same")(x)
    else:
        x = inp = keras.Input((side, side, channels))
        if kind == "conv 1x1":
            x = keras.layers.Conv2D(channels, 1)(x)
        else:
            x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    return keras.Model(inp, keras.layers.ReLU(6.0)(x))


def convert_pair(model) -> dict[str, bytes]:
    from export import convert
    from export.formats import FORMATS

    shape = (16, *model.input.shape[1:])
    samples = np.random.default_rng(0).random(shape, dtype=np.float32)
    return {"float32": convert.convert(model, FORMATS["float32"]),
            "int8": convert.convert(model, FORMATS["int8_int8io"], convert.representative_from(samples))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--side", type=int, default=48)
    p.add_argument("--channels", default="8,16,32,64,128,256")
    p.add_argument("--kinds", default="conv 1x1,depthwise 3x3,stem 3x3/2")
    args = p.parse_args(argv)
    channels = [int(c) for c in args.channels.split(",")]
    kinds = [k.strip() for k in args.kinds.split(",")]
    pairs = {(kind, c): convert_pair(one_layer(kind, args.side, c)) for kind in kinds for c in channels}
    print(f"side {args.side}, threads {args.threads}, {args.rounds} interleaved rounds, load before {_load()}")
    times = {}  # each pair interleaved on its own, so the caches hold only that layer's weights
    for (kind, c), pair in pairs.items():
        times.update({f"{kind}|{c}|{fmt}": ts for fmt, ts in interleaved(pair, args.threads, args.rounds).items()})
    print(f"{'layer':<16} {'C':>4} {'f32 p50 us':>10} {'i8 p50 us':>10} {'i8/f32 p50':>10} {'per-round':>9}")
    for kind in kinds:
        for c in channels:
            f32, i8 = times[f"{kind}|{c}|float32"], times[f"{kind}|{c}|int8"]
            print(f"{kind:<16} {c:>4} {np.median(f32) * 1e3:10.1f} {np.median(i8) * 1e3:10.1f} "
                  f"{np.median(i8) / np.median(f32):10.2f} {np.median(i8 / f32):9.2f}")
    print(f"load after {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
