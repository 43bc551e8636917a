"""Per-target export (``--target cpu,gpu,edgetpu,nnapi``): which formats each target gets and its op coverage.

cpu: float32 and int8 (XNNPACK runs both). gpu: float16 plus TensorFlow's GPU-delegate compatibility
analysis (ops that would fall back to the CPU, with the reason). edgetpu: full int8 with uint8 input and
output, op coverage against the Coral list in ``facts/edgetpu_ops.json``, then ``edgetpu_compiler`` if it is on
PATH (never installed from here). nnapi: int8, op coverage against ``facts/nnapi_ops.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edge.model_file import parse_model

from .errors import ExportError

DATA = Path(__file__).resolve().parent / "facts"

TARGET_FORMATS: dict[str, tuple[str, ...]] = {
    "cpu": ("float32", "int8"),
    "gpu": ("float16",),
    "edgetpu": ("int8_uint8io",),
    "nnapi": ("int8",),
}

EDGETPU_COMPILER_HELP = (
    "edgetpu_compiler is not on PATH, so the model was not compiled for the Edge TPU. It runs on x86-64 Debian/"
    "Ubuntu only: add Coral's apt repository (echo \"deb https://packages.cloud.google.com/apt coral-edgetpu-stable "
    "main\" | sudo tee /etc/apt/sources.list.d/coral-edgetpu.list; curl https://packages.cloud.google.com/apt/doc/"
    "apt-key.gpg | sudo apt-key add -), then `sudo apt-get update && sudo apt-get install edgetpu-compiler`, and run "
    "`edgetpu_compiler -s MODEL_int8_uint8io.tflite` (see https://coral.ai/docs/edgetpu/compiler/)."
)


class TargetError(ExportError):
    """An unknown --target name."""


@dataclass
class Coverage:
    target: str
    file: str
    supported: list[str] = field(default_factory=list)  # op names the target runs
    unsupported: dict[str, str] = field(default_factory=dict)  # op name -> reason it falls back to the CPU
    notes: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        total = len(self.supported) + len(self.unsupported)
        return len(self.supported) / total if total else 1.0

    def summary(self) -> str:
        text = f"{self.target}: {len(self.supported)}/{len(self.supported) + len(self.unsupported)} op types supported"
        if self.unsupported:
            text += "; falls back: " + "; ".join(f"{op} ({why})" for op, why in self.unsupported.items())
        return text


def parse_targets(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise TargetError(f"no target given; valid targets: {', '.join(TARGET_FORMATS)}")
    unknown = [n for n in names if n not in TARGET_FORMATS]
    if unknown:
        raise TargetError(f"unknown target {', '.join(map(repr, unknown))}; valid targets: {', '.join(TARGET_FORMATS)}")
    return list(dict.fromkeys(names))


def formats_for(targets: list[str]) -> list[str]:
    """Format names the targets need, in table order, without duplicates."""
    return list(dict.fromkeys(name for t in targets for name in TARGET_FORMATS[t]))


def op_list(target: str) -> dict:
    return json.loads((DATA / f"{target}_ops.json").read_text(encoding="utf-8"))


def _op_names(model_bytes: bytes) -> list[str]:
    mf = parse_model(model_bytes)
    used = {op.opcode.name for sg in mf.subgraphs for op in sg.operators}
    return sorted(used)


def _float_tensors(model_bytes: bytes) -> list[str]:
    mf = parse_model(model_bytes)
    names = []
    for sg in mf.subgraphs:
        for op in sg.operators:
            if any(sg.tensors[i].dtype == "float32" for i in op.inputs + op.outputs if i >= 0):
                names.append(op.opcode.name)
    return sorted(set(names))


def list_coverage(target: str, model_bytes: bytes, file: str) -> Coverage:
    """Coverage against the target's documented op list (edgetpu, nnapi)."""
    table = op_list(target)
    allowed = set(table["ops"])
    cov = Coverage(target, file, notes=[f"op list: {table['source']}"])
    float_ops = set(_float_tensors(model_bytes))
    for name in _op_names(model_bytes):
        if name not in allowed:
            cov.unsupported[name] = f"not in the {target} supported-op list"
        elif target == "edgetpu" and name in float_ops:
            cov.unsupported[name] = "computes in float32; the Edge TPU runs only 8-bit ops"
        else:
            cov.supported.append(name)
    return cov


_GPU_LINE = re.compile(r"GPU COMPATIBILITY WARNING: (.*)")
_OP_IN_LINE = re.compile(r"Op#\d+ (\w+)\(")


def gpu_coverage(model_bytes: bytes, file: str) -> Coverage:
    """Ops the GPU delegate would leave on the CPU, with the reason.

    Two sources: TensorFlow's analyzer with gpu_compatibility=True (its warnings are kept verbatim), and the
    delegate's op list in ``facts/gpu_ops.json``, because the analyzer in the TF 2.21 pip wheel has its GPU checks
    compiled out and calls every model compatible. Custom and Flex ops never run on the GPU delegate.
    """
    import tensorflow as tf

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        tf.lite.experimental.Analyzer.analyze(model_content=model_bytes, gpu_compatibility=True)
    text = buf.getvalue()
    table = op_list("gpu")
    cov = Coverage("gpu", file, notes=["tf.lite.experimental.Analyzer.analyze(gpu_compatibility=True)",
                                       f"op list: {table['source']}"])
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _GPU_LINE.search(line)
        if not match:
            continue
        op = _OP_IN_LINE.search(lines[i - 1]) if i else None
        name = op.group(1) if op else "model"
        cov.unsupported[name] = match.group(1).strip()
    allowed = set(table["ops"])
    for name in _op_names(model_bytes):
        if name in cov.unsupported:
            continue
        if name == "CUSTOM" or name.startswith("Flex"):
            cov.unsupported[name] = "custom or Flex (TF select) op: the GPU delegate runs builtin ops only"
        elif name not in allowed:
            cov.unsupported[name] = "not supported by the GPU delegate (not in its op list)"
    if cov.unsupported and "looks compatible with GPU delegate" in text:
        cov.notes.append("the analyzer called this model compatible; the op list disagrees (its GPU checks are "
                         "compiled out of this TensorFlow build)")
    cov.supported = [n for n in _op_names(model_bytes) if n not in cov.unsupported]
    return cov


def cpu_coverage(model_bytes: bytes, file: str) -> Coverage:
    cov = Coverage("cpu", file, supported=_op_names(model_bytes))
    cov.notes.append("every builtin op has a CPU kernel; XNNPACK takes float32 and int8 ops it supports")
    return cov


def coverage(target: str, model_bytes: bytes, file: str) -> Coverage:
    if target == "gpu":
        return gpu_coverage(model_bytes, file)
    if target == "cpu":
        return cpu_coverage(model_bytes, file)
    return list_coverage(target, model_bytes, file)


def compile_edgetpu(path: Path, out_dir: Path) -> tuple[Path | None, str]:
    """Run edgetpu_compiler on ``path`` if it is installed; else return (None, how to get it)."""
    exe = shutil.which("edgetpu_compiler")
    if exe is None:
        return None, EDGETPU_COMPILER_HELP
    result = subprocess.run([exe, "-s", "-o", str(out_dir), str(path)], capture_output=True, text=True)
    if result.returncode:
        raise ExportError(f"edgetpu_compiler failed on {path}: {result.stderr.strip() or result.stdout.strip()}")
    compiled = out_dir / f"{path.stem}_edgetpu.tflite"
    return compiled, result.stdout
