"""``python -m export report RUN [--export-dir DIR] [--out DIR] [--eval-images N] [--latency-runs N] ...``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import ExportError
from .measure import TARGETS


def build_parser() -> argparse.ArgumentParser:
    n = os.cpu_count() or 1
    p = argparse.ArgumentParser(prog="python -m export report", description="Score every .tflite of a run's "
                                "export folder through the edge runtime and write report.md/.csv/.json/.png.")
    p.add_argument("run", help="the run folder (holds run.json, model.keras and export/)")
    p.add_argument("--export-dir", type=Path, default=None, help="folder of .tflite variants (default RUN/export)")
    p.add_argument("--out", type=Path, default=None, help="where the report files go (default: the export folder)")
    p.add_argument("--eval-images", type=int, default=None, help="validation images to score (default: all)")
    p.add_argument("--latency-runs", type=int, default=50, help="timed invokes per thread count (default 50)")
    p.add_argument("--threads", default=f"1,{n}", help=f"thread counts to time (default 1,{n} = 1 and all CPUs)")
    p.add_argument("--targets", default=",".join(TARGETS), help="targets whose op coverage is checked")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({int(v) for v in text.split(",") if v.strip()}))
    except ValueError:
        raise ExportError(f"{flag} {text!r}: expected comma-separated whole numbers, e.g. 1,4") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from . import ReportOptions, build_report

        options = ReportOptions(export_dir=args.export_dir, out_dir=args.out, eval_images=args.eval_images,
                                latency_runs=args.latency_runs, threads=_ints(args.threads, "--threads"),
                                targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()),
                                progress=not args.no_progress)
        report = build_report(args.run, options)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print((report.files[2]).read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in report.files))
    return 0
