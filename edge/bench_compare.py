"""Measured latency against a board's reference number: pass, warn or fail, with the ratio that decided it.

ratio = measured p50 / reference. Up to ``1 + tolerance`` passes (being faster always passes), up to
``1 + 2 * tolerance`` warns, beyond fails. The reference's origin (published / measured / estimate) travels
with the verdict so a report never presents an estimate as a promise.
"""

from __future__ import annotations

from .board import Reference


def verdict(measured_ms: float, reference_ms: float, tolerance: float) -> tuple[str, float]:
    if measured_ms <= 0 or reference_ms <= 0 or tolerance <= 0:
        raise ValueError(f"verdict: measured {measured_ms}, reference {reference_ms} and tolerance {tolerance} "
                         f"must all be > 0")
    ratio = measured_ms / reference_ms
    if ratio <= 1 + tolerance:
        return "pass", ratio
    if ratio <= 1 + 2 * tolerance:
        return "warn", ratio
    return "fail", ratio


def compare(sweep: list[dict], reference: Reference | None) -> dict:
    """Pick the sweep row at the reference's thread count (else the fastest) and judge its p50."""
    if reference is None:
        return {"verdict": "no reference", "note": "the board profile has no reference for this model"}
    rows = [r for r in sweep if r["threads"] == reference.threads]
    note = ""
    if not rows:
        rows = [min(sweep, key=lambda r: r["p50_ms"])]
        note = f"reference is for {reference.threads} threads, not measured; compared the fastest row instead"
    row = rows[0]
    result, ratio = verdict(row["p50_ms"], reference.latency_ms, reference.tolerance)
    if reference.delegate != row["delegate"]:
        note = (note + "; " if note else "") + f"reference delegate {reference.delegate}, measured {row['delegate']}"
    return {"verdict": result, "ratio": ratio, "measured_p50_ms": row["p50_ms"], "threads": row["threads"],
            "reference_ms": reference.latency_ms, "tolerance": reference.tolerance, "source": reference.source,
            "reference_note": reference.note, "note": note}
