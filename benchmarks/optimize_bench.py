"""Optimisation goals measured on one detection run, side by side.

    .venv/bin/python benchmarks/optimize_bench.py runs/bench [--steps 200] [--calib-samples 300]

Exports float32 and PTQ int8 of the trained model, QAT -> int8 and 50% magnitude pruning -> float32 and int8,
then scores every file with `python -m export report`'s code (edge Engine + detect adapter + edge.metrics on the
run's validation split; invoke latency p50 at 1 and N threads; gzip size) and prints each goal with its figure:

    int8 latency / float32 latency        <= 0.5x
    PTQ int8 mAP@0.5 loss                 <= 1 point
    QAT int8 mAP@0.5 loss                 <= 0.5 point
    50% pruning gzip size / float32 gzip  <= 0.65x at <= 1 point loss
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", nargs="?", default="runs/bench")
    p.add_argument("--out", default=None, help="export folder (default RUN/export_bench)")
    p.add_argument("--steps", type=int, default=400, help="fine-tune steps (batch 8) of QAT and pruning")
    p.add_argument("--lr", type=float, default=2e-3, help="pruning fine-tune learning rate (cosine decay to 2%%)")
    p.add_argument("--qat-lr", type=float, default=1e-5, help="QAT fine-tune learning rate")
    p.add_argument("--ramp", type=float, default=0.4, help="fraction of the steps over which sparsity ramps up")
    p.add_argument("--frequency", type=int, default=10, help="pruning mask update frequency (steps)")
    p.add_argument("--dense-share", type=float, default=None,
                   help="share of the Conv2D/Dense weights (smallest layers) kept dense while the overall sparsity "
                        "stays 0.5 (default: export.optimize.PRUNE_DENSE_SHARE)")
    p.add_argument("--calib-samples", type=int, default=300)
    p.add_argument("--eval-images", type=int, default=None)
    p.add_argument("--latency-runs", type=int, default=100)
    p.add_argument("--reuse", action="store_true", help="score the files already in --out, do not export again")
    args = p.parse_args(argv)

    from export.formats import parse_formats
    from dataclasses import replace

    from export.optimize import DEFAULT_TUNE, PRUNE_DENSE_SHARE, OptimizeOptions
    from export.pipeline import ExportOptions, export_run
    from export.report import ReportOptions, build_report

    out = Path(args.out) if args.out else Path(args.run) / "export_bench"
    dense_share = PRUNE_DENSE_SHARE if args.dense_share is None else args.dense_share
    t0 = time.time()
    if not args.reuse:
        options = ExportOptions(formats=parse_formats("float32,int8"), calib_samples=args.calib_samples, out_dir=out,
                                threads=os.cpu_count() or 1, parity_images=16, evaluate=False,
                                optimize=["qat", "prune"],
                                optimize_options=OptimizeOptions(
                                    0.5, args.frequency, 16, replace(DEFAULT_TUNE, steps=args.steps, learning_rate=args.lr),
                                    prune_ramp=args.ramp, qat_learning_rate=args.qat_lr,
                                    prune_dense_share=dense_share))
        export_run(args.run, options)
    t_export = time.time() - t0
    report = build_report(args.run, ReportOptions(export_dir=out, eval_images=args.eval_images,
                                                  latency_runs=args.latency_runs, targets=("cpu",)))
    by = {r.variant: r for r in report.rows}
    f32, i8, qat, pf32 = by["float32"], by["int8"], by["qat/int8"], by["prune/float32"]
    n = max(report.header["threads"])
    print(f"\nrun {report.header['run']}: {report.header['images']} validation images, {report.header['host']}; "
          f"export {t_export:.0f} s, fine-tune {args.steps} steps (prune lr {args.lr:g}, ramp {args.ramp}, QAT lr "
          f"{args.qat_lr:g}, pruning dense share {dense_share:g}), calibration/fine-tune {args.calib_samples} images; load average "
          f"{'/'.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print(f"{'variant':<14} {'mAP@0.5':>8} {'drop pt':>8} {'KiB':>8} {'gzip KiB':>9} {'gzip x':>7} {'sparsity':>9} "
          f"{'p50 1t ms':>10} {'p50 ' + str(n) + 't ms':>10}")
    for r in report.rows:
        l1, ln = r.latency_at(1), r.latency_at(n)
        print(f"{r.variant:<14} {100 * r.metrics['map50']:8.2f} {r.drop:+8.2f} {r.size_bytes / 1024:8.1f} "
              f"{r.gzip_bytes / 1024:9.1f} {r.gzip_ratio:7.3f} {r.sparsity:9.3f} {l1.p50_ms:10.2f} {ln.p50_ms:10.2f}")
    print("\ngoal                                          figure      verdict")
    for t in sorted({1, n}):
        ratio = i8.latency_at(t).p50_ms / f32.latency_at(t).p50_ms
        print(f"int8 / float32 latency, {t} thread(s)           {ratio:6.2f}x     {_verdict(ratio <= 0.5)} (<= 0.5x)")
    print(f"PTQ int8 mAP@0.5 loss                         {i8.drop:+6.2f} pt   "
          f"{_verdict(i8.drop <= 1.0)} (<= 1 point)")
    print(f"QAT int8 mAP@0.5 loss                         {qat.drop:+6.2f} pt   "
          f"{_verdict(qat.drop <= 0.5)} (<= 0.5 point)")
    print(f"50% pruning gzip / float32 gzip               {pf32.gzip_ratio:6.3f}x    "
          f"{_verdict(pf32.gzip_ratio <= 0.65)} (<= 0.65x)")
    print(f"50% pruning mAP@0.5 loss                      {pf32.drop:+6.2f} pt   "
          f"{_verdict(pf32.drop <= 1.0)} (<= 1 point)")
    print(f"  (pruned sparsity: {pf32.sparsity:.3f} of all kernel weights, {pf32.sparsity_prunable:.3f} without "
          f"depthwise kernels, which tfmot does not prune; the smallest layers holding {dense_share:.0%} of the "
          f"Conv2D/Dense weights stay dense)")
    print(f"\nfull report: {', '.join(str(p) for p in report.files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
