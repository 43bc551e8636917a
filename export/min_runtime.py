"""``--min-runtime 2.14``: export models an older TFLite runtime can load, and prove it per file.

Two parts: (1) converter settings that keep op versions low (per-tensor quantisation of Dense weights keeps
FULLY_CONNECTED below the version TF 2.16+ emits for per-channel dense weights); (2) a check of every op's
version in each exported file against that runtime's maximum op versions, kept as data in
``export/facts/tflite_runtime_<version>_op_versions.json`` with how it was measured
(``tools/probe_op_versions.py``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from edge.model_file import parse_model

from .errors import ExportError
from .formats import ExportFormat

DATA = Path(__file__).resolve().parent / "facts"


class MinRuntimeError(ExportError):
    """An unknown --min-runtime version, or an exported model the runtime cannot load."""


@dataclass(frozen=True)
class RuntimeOps:
    label: str  # "2.14"
    runtime: str  # "tflite-runtime 2.14.0"
    source: str  # how the table was obtained
    max_versions: dict[str, int]


@dataclass(frozen=True)
class OpProblem:
    op: str
    version: int
    max_version: int | None  # None: the runtime has no such builtin op at all

    def describe(self) -> str:
        if self.max_version is None:
            return f"{self.op} v{self.version} (not in the table of ops this runtime was measured with)"
        return f"{self.op} v{self.version} (this runtime loads up to v{self.max_version})"


def known_runtimes() -> list[str]:
    return sorted(p.name.split("_")[2] for p in DATA.glob("tflite_runtime_*_op_versions.json"))


def runtime_ops(version: str) -> RuntimeOps:
    path = DATA / f"tflite_runtime_{version}_op_versions.json"
    if not path.is_file():
        raise MinRuntimeError(f"--min-runtime {version!r} is unknown; known runtimes: {', '.join(known_runtimes())}")
    data = json.loads(path.read_text(encoding="utf-8"))
    return RuntimeOps(data["label"], data["runtime"], data["source"], dict(data["max_versions"]))


def for_runtime(fmt: ExportFormat, version: str) -> ExportFormat:
    """The row ``fmt`` with the settings that keep its ops loadable by runtime ``version`` (checked to exist)."""
    runtime_ops(version)
    return dataclasses.replace(fmt, per_tensor_dense=True)


def op_problems(model_bytes: bytes, version: str) -> list[OpProblem]:
    """Ops of the model whose version exceeds what runtime ``version`` loads (custom ops are not checked)."""
    table = runtime_ops(version).max_versions
    problems = {}
    for code in parse_model(model_bytes).op_codes:
        if code.is_custom:
            continue
        limit = table.get(code.name)
        if limit is None or code.version > limit:
            problems[(code.name, code.version)] = OpProblem(code.name, code.version, limit)
    return list(problems.values())


def verify(model_bytes: bytes, version: str, where: str) -> None:
    """Raise MinRuntimeError naming ``where`` and every op the runtime would reject."""
    problems = op_problems(model_bytes, version)
    if problems:
        ops = runtime_ops(version)
        raise MinRuntimeError(f"{where}: {ops.runtime} cannot load this model: "
                              + "; ".join(p.describe() for p in problems))
