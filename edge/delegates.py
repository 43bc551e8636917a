"""Delegates: where the interpreter runs the model, and what happens when that place is unavailable.

Names: ``cpu`` (the runtime's default CPU path: built-in kernels plus the XNNPACK delegate it applies by
default), ``xnnpack`` (the same, named explicitly), ``builtin`` (TFLite's reference built-in kernels with no
default delegate: slower, but runs models XNNPACK refuses, e.g. some sparse ones), ``gpu`` and ``edgetpu``
(external delegate libraries),
or a path to any external delegate ``.so``. A library that cannot be loaded is a DelegateError naming it
and how to get it; nothing falls back to the CPU unless the caller asked for a fallback.
"""

from __future__ import annotations

import ctypes
import platform
from dataclasses import dataclass

from .errors import DelegateError

_GPU_LIB = {"Linux": "libtensorflowlite_gpu_delegate.so", "Darwin": "libtensorflowlite_gpu_delegate.dylib",
            "Windows": "tensorflowlite_gpu_delegate.dll"}
_EDGETPU_LIB = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}

INSTALL_HINTS = {
    "gpu": "build or install the TFLite GPU delegate (libtensorflowlite_gpu_delegate.so, e.g. from a "
           "TensorFlow source build or your board vendor) and put it on LD_LIBRARY_PATH",
    "edgetpu": "install the Edge TPU runtime (`sudo apt install libedgetpu1-std` from the Coral apt "
               "repository) and plug in the Edge TPU",
}

# What the runtime's load_delegate calls in an external delegate library.
_PLUGIN_SYMBOLS = ("tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate")

NAMES = ("cpu", "xnnpack", "builtin", "gpu", "edgetpu")


@dataclass(frozen=True)
class DelegateChoice:
    name: str  # cpu, xnnpack, builtin, gpu, edgetpu or "external"
    library: str | None = None  # shared library to load, for external delegates

    def __str__(self) -> str:
        return self.name if self.library is None or self.name != "external" else self.library


def resolve(spec: str) -> DelegateChoice:
    """Turn a --delegate value into a DelegateChoice; unknown names list the valid ones."""
    spec = (spec or "").strip()
    system = platform.system()
    if spec in ("cpu", "xnnpack", "builtin"):
        return DelegateChoice(spec)
    if spec == "gpu":
        return DelegateChoice("gpu", _GPU_LIB.get(system, _GPU_LIB["Linux"]))
    if spec == "edgetpu":
        return DelegateChoice("edgetpu", _EDGETPU_LIB.get(system, _EDGETPU_LIB["Linux"]))
    if "/" in spec or spec.endswith((".so", ".dylib", ".dll")) or ".so." in spec:
        return DelegateChoice("external", spec)
    raise DelegateError(
        f"unknown delegate {spec!r}; valid choices: {', '.join(NAMES)}, or a path to a delegate library (.so)"
    )


def load_external(runtime, choice: DelegateChoice, options: dict | None = None):
    """Load ``choice.library`` through the runtime; raise DelegateError naming the library on failure."""
    hint = INSTALL_HINTS.get(choice.name, "check the path and that the library matches this CPU and runtime")
    label = choice.library if choice.name == "external" else choice.name
    # Open it with ctypes first: a failed load inside the runtime also prints a spurious
    # "Exception ignored in Delegate.__del__" traceback, which users should not see.
    try:
        lib = ctypes.CDLL(choice.library)
    except OSError as exc:
        raise DelegateError(f"delegate {label!r}: cannot load {choice.library} ({_short(exc)}); {hint}") from None
    # An external delegate exports the plugin entry points the runtime calls; any other library (libm, a
    # model's custom-op library) would fail inside the runtime with an AttributeError.
    missing = [sym for sym in _PLUGIN_SYMBOLS if not hasattr(lib, sym)]
    if missing:
        raise DelegateError(f"delegate {label!r}: {choice.library} is a shared library but not a TFLite delegate "
                            f"(it does not export {', '.join(missing)}); {hint}")
    try:
        return runtime.load_delegate(choice.library, options or {})
    except (OSError, ValueError, RuntimeError) as exc:
        raise DelegateError(f"delegate {label!r}: {choice.library} loaded but failed to start ({_short(exc)}); {hint}") from None


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
