"""``python -m export report RUN``: every variant in RUN/export scored on the device runtime, side by side.

Each ``*.tflite`` in the export folder is scored with ``export.evaluate`` (edge Engine + the task's adapter +
its registry entry's scorer, the code the device runs) on the run's validation split, for every task;
measured (size, gzip size, zero weights, invoke latency p50/p90 at 1 and N threads, op coverage of every
target); and written as report.md, report.csv, report.json and report.png beside the models.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from train import tasks

from ..run_folder import load_run
from ..task_data import task_data
from ..validation import recorded_validation
from .measure import TARGETS, MeasureOptions, Row, compare_to_reference, measure
from .variants import ReportError, Variant, find_variants
from .write import FILES, write_csv, write_json, write_markdown, write_plot


@dataclass
class ReportOptions:
    export_dir: Path | None = None  # default RUN/export
    out_dir: Path | None = None  # default: the export folder
    eval_images: int | None = None  # None: the whole validation split
    latency_runs: int = 50
    threads: tuple[int, ...] = field(default_factory=lambda: tuple(sorted({1, os.cpu_count() or 1})))
    targets: tuple[str, ...] = TARGETS
    progress: bool = True


@dataclass
class Report:
    header: dict
    rows: list[Row]
    files: list[Path]


def _check(options: ReportOptions) -> None:
    if options.latency_runs < 2:
        raise ReportError(f"--latency-runs {options.latency_runs} must be at least 2 (p90 needs several invokes)")
    if options.eval_images is not None and options.eval_images < 1:
        raise ReportError(f"--eval-images {options.eval_images} must be at least 1")
    if not options.threads or any(t < 1 for t in options.threads):
        raise ReportError(f"--threads {','.join(map(str, options.threads))}: every thread count must be at least 1")
    unknown = [t for t in options.targets if t not in TARGETS]
    if unknown:
        raise ReportError(f"unknown target {', '.join(map(repr, unknown))}; valid targets: {', '.join(TARGETS)}")


def build_report(run_dir: str | Path, options: ReportOptions = ReportOptions(), log=print) -> Report:
    _check(options)
    run = load_run(run_dir)
    export_dir = Path(options.export_dir) if options.export_dir else run.export_dir
    variants: list[Variant] = find_variants(export_dir)
    entry = tasks.get(run.task)
    data = task_data(run)
    items = data.val[: options.eval_images] if options.eval_images else data.val
    if not items:
        raise ReportError(f"{run.spec['data']['val']}: the validation split has no images to score")
    measure_opts = MeasureOptions(tuple(options.threads), options.latency_runs, tuple(options.targets))

    from tqdm import tqdm

    rows = []
    bar = tqdm(variants, desc="report", unit="model", disable=not options.progress)
    for variant in bar:
        bar.set_postfix_str(variant.path.name)
        rows.append(measure(variant, data, items, measure_opts))
    bar.close()
    ref = compare_to_reference(rows, entry)
    measured = {k for r in rows for k in r.metrics}
    headline = entry.metric(rows[0].metric) if rows and rows[0].metric else None
    header = {"run": run.name, "run_path": str(run.path), "task": run.task, "export_dir": str(export_dir.resolve()),
              "val": run.spec["data"]["val"], "images": len(items), "latency_runs": options.latency_runs,
              "threads": list(options.threads), "targets": list(options.targets),
              "host": f"{platform.machine()} with {os.cpu_count()} CPUs ({platform.processor() or 'unknown cpu'})",
              "reference": ref.file if ref else None, "metric": headline.key if headline else None,
              "metric_label": headline.label if headline else None,
              "drop_unit": headline.difference_unit if headline else None,
              "columns": [{"key": m.key, "label": m.label, "percent": m.percent}
                          for m in entry.shown(measured, len(run.labels))],
              "validation": recorded_validation(run.path)}  # the run's one figure, None if model.keras changed
    out = Path(options.out_dir) if options.out_dir else export_dir
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in FILES]
    write_json(paths[0], header, rows)
    write_csv(paths[1], header, rows, measure_opts.threads, measure_opts.targets)
    write_markdown(paths[2], header, rows, measure_opts.threads, measure_opts.targets)
    write_plot(paths[3], header, rows, measure_opts.threads[0])
    for row in rows:
        if row.error:
            log(f"warning: {row.variant} could not be scored: {row.error}")
    return Report(header, rows, paths)


__all__ = ["Report", "ReportError", "ReportOptions", "build_report"]
