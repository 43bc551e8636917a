"""Pick the TFLite interpreter package: ai-edge-litert, else tflite-runtime.

edge never imports TensorFlow, not even as a fallback: a host runs the same interpreter package as the
device. With neither installed, ``load_runtime`` raises a ModelError naming both packages and the pip extra
that installs one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ModelError

# (name reported to the user, module holding Interpreter and load_delegate, pip package)
CANDIDATES = (
    ("ai-edge-litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite-runtime", "tflite_runtime.interpreter", "tflite-runtime"),
)


@dataclass(frozen=True)
class Runtime:
    name: str
    module: Any
    version: str

    @property
    def Interpreter(self) -> Callable:
        return self.module.Interpreter

    @property
    def load_delegate(self) -> Callable:
        return self.module.load_delegate

    def op_resolver(self, name: str):
        """An OpResolverType member by name, or None when this runtime has no such choice (older
        tflite-runtime releases)."""
        types = getattr(self.module, "OpResolverType", None)
        return getattr(types, name, None) if types is not None else None


_cached: Runtime | None = None


def load_runtime() -> Runtime:
    global _cached
    if _cached is None:
        _cached = _find()
    return _cached


def _find() -> Runtime:
    for name, module_name, _ in CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        top = importlib.import_module(module_name.split(".")[0])
        return Runtime(name, module, str(getattr(top, "__version__", "unknown")))
    raise ModelError(
        "no TFLite runtime is installed: edge needs ai-edge-litert or tflite-runtime (it never uses TensorFlow); "
        "install one with `pip install 'edgevision[edge]'` (ai-edge-litert), or `pip install "
        "'edgevision[edge-legacy]'` (tflite-runtime, numpy<2) on older boards"
    )
