"""Ending a child process we started (a GStreamer reader, the RTSP server): politely, then firmly."""

from __future__ import annotations

import subprocess


def end_process(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM, ``grace`` seconds to exit, then SIGKILL; always reaped. A process already gone is left as is."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
