"""bench.json, bench.md and bench.png from one bench result. The plot is drawn with OpenCV (no matplotlib on
a device): per model, one bar per thread count (p50), a whisker to p90, and the reference as a dashed line."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

COLORS = [(66, 133, 244), (52, 168, 83), (251, 188, 5), (234, 67, 53), (171, 71, 188), (0, 172, 193)]


def write_reports(report: dict, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "md": out / "bench.md", "png": out / "bench.png"}
    paths["json"].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    paths["md"].write_text(markdown(report))
    if not cv2.imwrite(str(paths["png"]), plot(report)):
        raise OSError(f"cannot write {paths['png']}")
    return paths


def _f(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(report: dict) -> str:
    sysf = report["system"]
    lines = [f"# Benchmark on {report['board'] or 'an unknown board'}", "",
             f"{report['created']}, {sysf['machine']}, {sysf['cores']} cores, {sysf['system']}, runtime "
             f"{report['runtime']}, {report['runs']} timed runs after {report['warmup']} warm-up.", ""]
    if report.get("board_note"):
        lines += [f"Board: {report['board_note']}", ""]
    if sysf.get("emulated"):
        lines += [f"**Emulated:** {sysf['emulated']}. No figure here is compared with a board reference.", ""]
    if sysf.get("governor_warning"):
        lines += [f"**Warning:** {sysf['governor_warning']}", ""]
    temps = ", ".join(f"{t['type'] or t['zone']} {t['celsius']:.1f} °C" for t in sysf.get("temperatures", []))
    lines += [f"Temperatures: {temps or 'not exposed'}. Throttling: "
              f"{', '.join((sysf.get('throttling') or {}).get('flags', [])) or ('none' if sysf.get('throttling') else 'not exposed')}."
              f" Peak RSS: {report['peak_rss_mb']:.0f} MB.", ""]
    lines += ["| model | threads | delegate | init ms | first ms | p50 ms | p90 ms | p99 ms | FPS |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for m in report["models"]:
        for r in m["sweep"]:
            lines.append(f"| {m['name']} | {r['threads']} | {r['delegate']} | {_f(r['init_ms'])} | "
                         f"{_f(r['first_invoke_ms'])} | {_f(r['p50_ms'], 2)} | {_f(r['p90_ms'], 2)} | "
                         f"{_f(r['p99_ms'], 2)} | {_f(r['throughput_fps'])} |")
    lines += ["", "| model | verdict | measured p50 | reference | ratio | reference source | note |",
              "|---|---|---:|---:|---:|---|---|"]
    for m in report["models"]:
        c = m["reference"]
        lines.append(f"| {m['name']} | {c['verdict']} | {_f(c.get('measured_p50_ms'), 2)} | "
                     f"{_f(c.get('reference_ms'))} | {_f(c.get('ratio'), 2)} | {c.get('source', '-')} | "
                     f"{'; '.join(x for x in (c.get('note'), c.get('reference_note')) if x) or '-'} |")
    for m in report["models"]:
        extra = []
        if m.get("delegates"):
            extra.append("delegates: " + ", ".join(f"{k} {v}" for k, v in m["delegates"].items()))
        extra += [f"{k}: {m[k]['skipped']}" for k in ("accuracy", "pipeline") if m.get(k, {}).get("skipped")]
        if m.get("accuracy") and "skipped" not in m["accuracy"]:
            a = m["accuracy"]
            extra.append(f"accuracy on {a['images']} images ({a['objects']} objects): mAP50 {a['map50']:.3f}, "
                         f"mAP50-95 {a['map50_95']:.3f}")
        if m.get("pipeline") and "skipped" not in m["pipeline"]:
            p = m["pipeline"]
            extra.append("pipeline on " + p["source"] + ": " + ", ".join(
                f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in p.items() if k != "source"))
        if extra:
            lines += ["", f"**{m['name']}**: " + "; ".join(extra)]
    lines += ["", f"Command: `{report['command']}`", ""]
    return "\n".join(lines)


def plot(report: dict, width: int = 960, row_h: int = 70) -> np.ndarray:
    models = report["models"]
    height = 80 + row_h * max(1, len(models)) + 40
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top = 300, width - 40, 60
    worst = max([r["p90_ms"] for m in models for r in m["sweep"]] +
                [m["reference"].get("reference_ms") or 0 for m in models] + [1e-3])
    scale = (right - left) / (worst * 1.1)
    cv2.putText(img, f"invoke latency p50 (bar) .. p90 (whisker), ms - {report['board'] or 'unknown board'}",
                (20, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for i, m in enumerate(models):
        y0 = top + i * row_h
        cv2.putText(img, m["name"][:34], (10, y0 + row_h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        n = max(1, len(m["sweep"]))
        bar_h = max(4, (row_h - 14) // n)
        for j, r in enumerate(m["sweep"]):
            y = y0 + 4 + j * bar_h
            color = COLORS[j % len(COLORS)]
            x50, x90 = left + int(r["p50_ms"] * scale), left + int(r["p90_ms"] * scale)
            cv2.rectangle(img, (left, y), (x50, y + bar_h - 2), color, -1)
            cv2.line(img, (x50, y + bar_h // 2), (x90, y + bar_h // 2), (0, 0, 0), 1)
            cv2.putText(img, f"{r['threads']}t {r['p50_ms']:.1f}", (x90 + 4, y + bar_h - 3),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
        ref = m["reference"].get("reference_ms")
        if ref:
            x = left + int(ref * scale)
            for yy in range(y0, y0 + row_h - 6, 6):
                cv2.line(img, (x, yy), (x, yy + 3), (0, 0, 200), 2)
            cv2.putText(img, f"ref {ref:g} ({m['reference']['verdict']})", (x + 3, y0 + row_h - 4),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 200), 1, cv2.LINE_AA)
    cv2.line(img, (left, top - 5), (left, height - 40), (0, 0, 0), 1)
    return img
