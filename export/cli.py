"""``python -m export runs/NAME --formats float32,int8 [--calib-samples 200] [--out DIR]``."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import ExportError
from .formats import FORMATS, parse_formats


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export", description="Convert a training run to TFLite models "
                                "with embedded metadata, check parity and score them through the edge runtime.")
    p.add_argument("run", help="the run folder written by `python -m train` (holds run.json and model.keras)")
    p.add_argument("--formats", default="float32,int8", help=f"comma-separated, from: {', '.join(FORMATS)}")
    p.add_argument("--calib-samples", type=int, default=200, help="training images used to calibrate int8")
    p.add_argument("--out", default=None, help="output folder (default: RUN/export)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="interpreter threads for scoring")
    p.add_argument("--parity-images", type=int, default=32, help="validation images for the Keras parity check")
    p.add_argument("--eval-images", type=int, default=None, help="validation images to score (default: all)")
    p.add_argument("--no-eval", action="store_true", help="skip mAP and latency (conversion and parity only)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        formats = parse_formats(args.formats)
        from .pipeline import ExportOptions, export_run, summary

        for name, value in (("--calib-samples", args.calib_samples), ("--threads", args.threads),
                            ("--parity-images", args.parity_images)):
            if value < 1:
                raise ExportError(f"{name} {value} must be at least 1")
        options = ExportOptions(formats=formats, calib_samples=args.calib_samples, out_dir=args.out,
                                threads=args.threads, parity_images=args.parity_images,
                                evaluate=not args.no_eval, eval_images=args.eval_images)
        report = export_run(args.run, options)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(report))
    return 0 if all(r.parity_ok for r in report.formats) else 1
