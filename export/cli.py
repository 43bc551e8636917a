"""``python -m export runs/NAME --formats float32,int8 [--calib-samples 200] [--out DIR]``; ``python -m export report
runs/NAME`` scores what was exported (export/report)."""

from __future__ import annotations

import argparse
import os
import sys

from edge.errors import EdgeError
from edge.schema import Field, check_args, threads_field

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
    p.add_argument("--optimize", default="", help="comma-separated optimisation modes, from: prune, prune24, "
                   "cluster, qat, pqat, cqat (each adds model_<mode>_<format>.tflite)")
    p.add_argument("--sparsity", type=float, default=0.5, help="target sparsity for prune/pqat, in (0, 1)")
    p.add_argument("--clusters", type=int, default=16, help="clusters per kernel for cluster/cqat")
    p.add_argument("--finetune-steps", type=int, default=400, help="fine-tune steps (batch 8) for every optimisation "
                   "mode; 2-5 min each on a shared 2-core host for the 192 px detector (docs/optimization.md)")
    p.add_argument("--finetune-lr", type=float, default=2e-3, help="prune/cluster fine-tune learning rate, cosine-"
                   "decayed to 2%% of it; pruning ramps over the first 40%% of the steps, then recovers")
    p.add_argument("--qat-lr", type=float, default=1e-5, help="QAT (and PQAT/CQAT's QAT stage) learning rate")
    p.add_argument("--prune-frequency", type=int, default=10, help="steps between pruning mask updates")
    p.add_argument("--prune-dense-share", type=float, default=None, metavar="SHARE",
                   help="prune/pqat keep the smallest Conv2D/Dense layers holding up to this share of the weights "
                   "dense, the rest prune harder so --sparsity holds overall (default 0.05: 0.25 point lost at "
                   "50%% vs 1.98 with 0, docs/optimization.md)")
    p.add_argument("--target", default="", help="comma-separated deployment targets, from: cpu, gpu, edgetpu, "
                   "nnapi (adds their formats and an op-coverage report)")
    p.add_argument("--min-runtime", default=None, help="oldest TFLite runtime the files must load in, e.g. 2.14")
    return p


# Types and ranges of the options, checked before TensorFlow is imported or anything is converted.
OPTION_FIELDS = (
    Field("calib_samples", int, min=1, max=100000),
    threads_field(),
    Field("parity_images", int, min=1, max=100000),
    Field("eval_images", int, min=1, max=10_000_000),
    Field("sparsity", float, above=0, max=0.999, expect="a share strictly between 0 and 1"),
    Field("clusters", int, min=2, max=65536),
    Field("finetune_steps", int, min=0, max=10_000_000),
    Field("finetune_lr", float, above=0, max=10.0, expect="a learning rate > 0 and <= 10"),
    Field("qat_lr", float, above=0, max=10.0, expect="a learning rate > 0 and <= 10"),
    Field("prune_frequency", int, min=1, max=100000),
    Field("prune_dense_share", float, min=0.0, max=0.999, expect="a share in [0, 1)"),
)


def optimize_options(args: argparse.Namespace):
    """The fine-tune and mode settings of ``--optimize`` from the parsed options (export.optimize.OptimizeOptions)."""
    from dataclasses import replace

    from .optimize import DEFAULT_TUNE, OptimizeError, OptimizeOptions

    tune = replace(DEFAULT_TUNE, steps=args.finetune_steps, learning_rate=args.finetune_lr)
    opt = OptimizeOptions(args.sparsity, args.prune_frequency, args.clusters, tune, qat_learning_rate=args.qat_lr)
    if args.prune_dense_share is not None:
        if not 0.0 <= args.prune_dense_share < 1.0:
            raise OptimizeError(f"--prune-dense-share {args.prune_dense_share} must lie in [0, 1)")
        opt = replace(opt, prune_dense_share=args.prune_dense_share)
    return opt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:  # `python -m export report RUN`: score the variants already exported
        from .report.cli import main as report_main

        return report_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        check_args(args, OPTION_FIELDS)
        from .run_folder import load_run

        load_run(args.run)  # the run folder and its run.json, named before TensorFlow is imported
        from train.device import start_tensorflow

        start_tensorflow(what="export")  # no CUDA probe noise on a CPU-only host; one line says why
        from .optimize import parse_modes
        from .targets import formats_for, parse_targets

        targets = parse_targets(args.target) if args.target else []
        modes = parse_modes(args.optimize) if args.optimize else []
        names = [n.strip() for n in args.formats.split(",") if n.strip()] + formats_for(targets)
        formats = parse_formats(",".join(dict.fromkeys(names)))
        if modes and not 0.0 < args.sparsity < 1.0:
            from .optimize import OptimizeError

            raise OptimizeError(f"--sparsity {args.sparsity} must lie strictly between 0 and 1")
        opt = optimize_options(args)
        if args.min_runtime:
            from .min_runtime import runtime_ops

            runtime_ops(args.min_runtime)
        from .pipeline import ExportOptions, export_run, summary

        for name, value in (("--calib-samples", args.calib_samples), ("--threads", args.threads),
                            ("--parity-images", args.parity_images)):
            if value < 1:
                raise ExportError(f"{name} {value} must be at least 1")
        options = ExportOptions(formats=formats, calib_samples=args.calib_samples, out_dir=args.out,
                                threads=args.threads, parity_images=args.parity_images,
                                evaluate=not args.no_eval, eval_images=args.eval_images, optimize=modes,
                                optimize_options=opt, targets=targets, min_runtime=args.min_runtime)
        report = export_run(args.run, options)
    except (ExportError, EdgeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(report))
    return 0 if all(r.parity_ok for r in report.formats) else 1
