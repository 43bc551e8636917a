"""Write the report rows as report.json, report.csv, report.md and report.png (accuracy vs latency)."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

from ..validation import describe
from .measure import Row

FILES = ("report.json", "report.csv", "report.md", "report.png")


def _shown(column: dict, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.2f}" if column["percent"] else f"{value:.2f}"


def _num(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def write_json(path: Path, header: dict, rows: list[Row]) -> None:
    path.write_text(json.dumps({**header, "variants": [asdict(r) for r in rows]}, indent=2) + "\n", encoding="utf-8")


def csv_columns(metrics: list[str], threads: tuple[int, ...], targets: tuple[str, ...]) -> list[str]:
    cols = ["variant", "mode", "format", "file", "quantization", "metric", *metrics, "drop", "images",
            "size_bytes", "size_ratio", "gzip_bytes", "gzip_ratio", "sparsity", "sparsity_prunable"]
    for t in threads:
        cols += [f"p50_ms_{t}t", f"p90_ms_{t}t"]
    for target in targets:
        cols += [f"coverage_{target}", f"falls_back_{target}"]
    return cols + ["error"]


def csv_record(row: Row, metrics: list[str], threads: tuple[int, ...], targets: tuple[str, ...]) -> dict:
    rec = {k: v for k, v in asdict(row).items() if not isinstance(v, (list, dict))}
    rec.update({k: row.metrics.get(k) for k in metrics})
    for t in threads:
        lat = row.latency_at(t)
        rec[f"p50_ms_{t}t"] = lat.p50_ms if lat else None
        rec[f"p90_ms_{t}t"] = lat.p90_ms if lat else None
    for target in targets:
        cov = row.coverage.get(target, {})
        rec[f"coverage_{target}"] = cov.get("fraction")
        rec[f"falls_back_{target}"] = "; ".join(f"{op}: {why}" for op, why in cov.get("unsupported", {}).items())
    return rec


def write_csv(path: Path, header: dict, rows: list[Row], threads: tuple[int, ...], targets: tuple[str, ...]) -> None:
    """One column per metric the task measured (every one of them, top-5 included), then the rest."""
    shown = [c["key"] for c in header["columns"]]
    metrics = shown + sorted({k for r in rows for k in r.metrics} - set(shown))
    cols = csv_columns(metrics, threads, targets)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        for row in rows:
            writer.writerow(csv_record(row, metrics, threads, targets))


def _validation_line(record: dict | None) -> str:
    if not record:
        return ("The run's validation figure: not in run.json for this model.keras (run `python -m export RUN` "
                "to measure it).")
    return (f"The run's validation figure (run.json `validation`, measured when training ended and by every "
            f"export): {describe(record)}.")


def write_markdown(path: Path, header: dict, rows: list[Row], threads: tuple[int, ...],
                   targets: tuple[str, ...]) -> None:
    lat_cols = " | ".join(f"p50 / p90 ms ({t} thr)" for t in threads)
    columns = header["columns"]
    drop = (f"Drop = float32 {header['metric_label']} minus the variant's, in {header['drop_unit']} (positive = "
            f"worse)." if header.get("metric") else "No headline metric was measured (no reference images): no drops.")
    metric_cols = "".join(f" {c['label']}{' %' if c['percent'] else ''} |" for c in columns)
    lines = [f"# Export report: run {header['run']}", "",
             f"Scored through `edge` (Engine + the {header['task']} adapter + the task's scorer) on "
             f"{header['images']} validation items of `{header['val']}`. Latency: {header['latency_runs']} invokes "
             f"after one warm-up on {header['host']}. {drop} Sparsity = zero weights in the file's "
             f"conv/depthwise/dense kernels (without depthwise in brackets).",
             "", _validation_line(header.get("validation")), "",
             f"| variant | quantization |{metric_cols} drop | size KiB | gzip KiB (ratio) | sparsity | "
             f"{lat_cols} | " + " | ".join(targets) + " |",
             "|" + "---|" * (7 + len(columns) + len(threads) + len(targets))]
    for r in rows:
        lats = " | ".join(_lat(r, t) for t in threads)
        cov = " | ".join(_num(r.coverage.get(t, {}).get("fraction"), ".0%") for t in targets)
        gz = f"{r.gzip_bytes / 1024:.1f}" + (f" ({r.gzip_ratio:.2f}x)" if r.gzip_ratio is not None else "")
        values = "".join(f" {_shown(c, r.metrics.get(c['key']))} |" for c in columns)
        lines.append(f"| {r.variant} | {r.quantization or 'n/a'} |{values} "
                     f"{_num(r.drop, '+.2f')} | {r.size_bytes / 1024:.1f} | {gz} | "
                     f"{r.sparsity:.3f} ({r.sparsity_prunable:.3f}) | {lats} | {cov} |")
    lines += ["", "## Ops that leave the target (falls back to the CPU)", ""]
    for r in rows:
        for target in targets:
            for op, why in r.coverage.get(target, {}).get("unsupported", {}).items():
                lines.append(f"- {r.variant} on {target}: {op}: {why}")
    if not any(r.coverage.get(t, {}).get("unsupported") for r in rows for t in targets):
        lines.append("- none: every op of every variant is supported by every target")
    errors = [r for r in rows if r.error]
    if errors:
        lines += ["", "## Variants that could not be scored", ""] + [f"- {r.variant}: {r.error}" for r in errors]
    if header.get("reference") is None:
        lines += ["", "No float32 model of the trained run in the folder: drops and ratios are n/a."]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _lat(row: Row, threads: int) -> str:
    lat = row.latency_at(threads)
    return "n/a" if lat is None else f"{lat.p50_ms:.2f} / {lat.p90_ms:.2f}"


def write_plot(path: Path, header: dict, rows: list[Row], threads: int) -> None:
    """The headline metric against p50 latency at ``threads`` threads; marker area proportional to the file size.
    Without a headline metric (an unpaired enhancement run) the y axis is the model's size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = header.get("metric")
    percent = next((c["percent"] for c in header["columns"] if c["key"] == key), True)
    scored = [r for r in rows if r.latency_at(threads) and (key is None or key in r.metrics)]
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    biggest = max((r.size_bytes for r in scored), default=1)
    for r in scored:
        x = r.latency_at(threads).p50_ms
        y = r.size_bytes / 1024 if key is None else (100 if percent else 1) * r.metrics[key]
        ax.scatter([x], [y], s=40 + 900 * r.size_bytes / biggest, alpha=0.55)
        ax.annotate(f"{r.variant} ({r.size_bytes / 1024:.0f} KiB)", (x, y), textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
    ax.set_xlabel(f"invoke latency p50, ms ({threads} thread{'s' if threads > 1 else ''})")
    ax.set_ylabel("model size, KiB" if key is None else
                  f"{header['metric_label']}{' (%)' if percent else ''} through edge")
    ax.set_title(f"run {header['run']} ({header['task']}): "
                 f"{'size' if key is None else 'accuracy'} vs latency (marker area ~ model size)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
