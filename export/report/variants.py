"""Find the variant files of an export folder and name them: ``model_<mode>_<format>.tflite`` -> (mode, format)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ExportError
from ..formats import FORMATS


class ReportError(ExportError):
    """The report cannot be made: no export folder, no .tflite in it, or a bad report option."""


@dataclass(frozen=True)
class Variant:
    path: Path
    mode: str  # optimisation mode, "" for the trained model as is; the file stem when the name is not ours
    format: str  # export format name ("" when the file name does not end in one)

    @property
    def label(self) -> str:
        if not self.format:
            return self.mode
        return f"{self.mode}/{self.format}" if self.mode else self.format


def name_variant(path: Path) -> Variant:
    """``model_prune_int8.tflite`` -> Variant(mode="prune", format="int8"); longest format suffix wins."""
    stem = path.stem
    body = stem[len("model"):] if stem.startswith("model") else None
    if body is not None:
        for fmt in sorted(FORMATS, key=len, reverse=True):
            if body == f"_{fmt}":
                return Variant(path, "", fmt)
            if body.endswith(f"_{fmt}") and body.startswith("_"):
                return Variant(path, body[1:-len(fmt) - 1], fmt)
    return Variant(path, stem, "")


def find_variants(export_dir: Path) -> list[Variant]:
    """Every ``*.tflite`` directly in ``export_dir``: the trained model's formats first (table order), then modes."""
    if not export_dir.is_dir():
        raise ReportError(f"{export_dir}: no export folder; run `python -m export {export_dir.parent}` first "
                          f"(or pass --export-dir)")
    found = [name_variant(p) for p in sorted(export_dir.glob("*.tflite"))]
    if not found:
        raise ReportError(f"{export_dir}: no .tflite files to report on; run `python -m export RUN --formats ...` "
                          f"first")
    order = {name: i for i, name in enumerate(FORMATS)}
    return sorted(found, key=lambda v: (v.mode != "", v.mode, order.get(v.format, len(order)), v.path.name))
