"""Pick the TFLite interpreter package: ai-edge-litert, else tflite-runtime, else tensorflow.lite.

TensorFlow is only a last resort for a host that has neither device runtime installed; it is never
imported when one of the first two is present.
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
    ("tensorflow", "tensorflow.lite", "tensorflow"),
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
        if hasattr(self.module, "load_delegate"):
            return self.module.load_delegate
        return self.module.experimental.load_delegate  # tensorflow.lite

    def op_resolver(self, name: str):
        """An OpResolverType member by name, or None when this runtime has no such choice."""
        types = getattr(self.module, "OpResolverType", None)
        if types is None and hasattr(self.module, "experimental"):
            types = getattr(self.module.experimental, "OpResolverType", None)
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
        "no TFLite runtime is installed; install one with `pip install ai-edge-litert` "
        "(or `pip install tflite-runtime` with numpy<2 on older boards)"
    )
