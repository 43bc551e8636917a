"""Before TensorFlow loads: say where training runs, and keep a CPU host's CUDA probing off the terminal.

TensorFlow's CUDA build probes the driver at start and, on a host without one, logs
``E0000 ... failed call to cuInit`` (and a few lines before its logger is set up). On such a host we
hide the CUDA devices, raise TensorFlow's C++ log level to errors-only-fatal (unless the user set it) and
mute the native stderr while TensorFlow starts; then one line says that training runs on the CPU and why.
"""

from __future__ import annotations

import glob
import os
import sys
from contextlib import contextmanager


def gpu_absent_reason() -> str | None:
    """Why this host has no usable NVIDIA GPU, or None when it may have one."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return f"CUDA_VISIBLE_DEVICES={visible!r} hides the GPUs"
    if sys.platform.startswith("linux") and not glob.glob("/dev/nvidia[0-9]*"):
        return "no NVIDIA GPU on this host (no /dev/nvidia* device)"
    return None


@contextmanager
def muted_stderr_fd():
    """Send what native code writes to file descriptor 2 to /dev/null meanwhile (Python errors still raise)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_tensorflow(say=print, what: str = "training") -> str:
    """Import TensorFlow (quietly on a CPU-only host) and say where ``what`` runs; returns "cpu" or "gpu"."""
    reason = gpu_absent_reason()
    if reason is None:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            say(f"{what} runs on {len(gpus)} GPU(s)")
            return "gpu"
        reason = "TensorFlow found no usable GPU"
        say(f"{what} runs on the CPU: {reason}")
        return "cpu"
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    from . import USER_TF_LOG_LEVEL

    if USER_TF_LOG_LEVEL is None:  # errors only from here on: the driver probe's error is expected
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with muted_stderr_fd():
        import tensorflow as tf

        tf.config.list_physical_devices()  # the driver probe happens here, muted
    say(f"{what} runs on the CPU: {reason}")
    return "cpu"
