"""``display://`` in a real X server (Xvfb) with a GUI build of OpenCV (opencv-python, in its own venv: the
project's own venv has the headless build, as a device without a screen should).

The window must show the stream (screen grabs by ffmpeg's x11grab change while it runs), the run must end on
its own with the window driven from the main thread (Qt deadlocks otherwise), and ``q`` typed into the window
must stop the pipeline. The headless build must say why it cannot open a window.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from .pipeline_helpers import edge_cmd, edge_env, ensure_tool

pytestmark = pytest.mark.xdisplay

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("EDGEVISION_GUI_VENV", REPO / ".venv-gui"))
SCREEN = (800, 600)


@pytest.fixture(scope="module")
def gui_python() -> Path:
    """The venv with the edge runtime's packages but OpenCV's GUI build that `make helper-venvs` makes."""
    python = VENV / "bin" / "python"
    if not python.exists() or not (os.environ.get("EDGEVISION_GUI_VENV") or (VENV / ".installed").is_file()):
        pytest.skip(f"no GUI OpenCV venv at {VENV}: `make helper-venvs` creates it")
    return python


@pytest.fixture(scope="module")
def x_display(tmp_path_factory):
    xvfb = ensure_tool("Xvfb", "xvfb")
    ensure_tool("ffmpeg", "ffmpeg")
    number = 90 + os.getpid() % 9
    proc = subprocess.Popen([xvfb, f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not socket.exists():
        proc.kill()
        pytest.fail(f"Xvfb :{number} did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(5)


def _grab(display: str, path: Path) -> np.ndarray:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "x11grab", "-video_size", f"{SCREEN[0]}x{SCREEN[1]}",
                    "-i", display, "-frames:v", "1", str(path)], check=True, timeout=30)
    return cv2.imread(str(path))


def _run(python: Path, display: str, ssd: Path, frames: int) -> subprocess.Popen:
    env = dict(edge_env(), DISPLAY=display)
    return subprocess.Popen([str(python), "-m", "edge", "run", "--model", str(ssd), "--source",
                             "synthetic://?width=320&height=240&fps=30", "--sink", "display://edge",
                             "--max-frames", str(frames), "--threads", "1", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _green_bar(shot: np.ndarray) -> int:
    """Pixels of the synthetic pattern's green bar (0, 192, 0) on the screen grab."""
    b, g, r = (shot[..., i].astype(int) for i in range(3))
    return int(((g > 150) & (r < 60) & (b < 60)).sum())


def _wait_for_window(proc: subprocess.Popen, display: str, tmp_path: Path, timeout: float = 90.0) -> np.ndarray:
    """The first screen grab that shows the stream (the empty Xvfb screen is black). It waits for the window or
    for the run to end, whichever comes first; ``timeout`` only guards against a hang (a busy machine can take
    tens of seconds to start the GUI venv's Python, LiteRT and OpenCV)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"edge run ended (exit {proc.returncode}) before a window appeared: {proc.stderr.read()[-2000:]}")
        shot = _grab(display, tmp_path / "wait.png")
        if _green_bar(shot) > 240 * 30:  # a bar 1/8 of the 320-pixel frame wide, full height
            return shot
        time.sleep(0.2)
    pytest.fail("no window showing the stream appeared on the X screen")


def test_display_window_shows_the_stream_and_ends_on_its_own(gui_python, x_display, ssd, tmp_path):
    # 20 s at 30 FPS: time for the screen grabs (an ffmpeg each, seconds apart on a busy host) to find the window
    # before the run ends on its own; 240 frames (8 s) ended unseen once under a full `make test` (2026-12-06)
    proc = _run(gui_python, x_display, ssd, frames=600)
    try:
        first = _wait_for_window(proc, x_display, tmp_path)
        time.sleep(0.5)
        second = _grab(x_display, tmp_path / "second.png")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "frames:" in out
    changed = np.any(first != second, axis=2)
    assert changed.mean() > 0.001, "the window did not change between two grabs 0.5 s apart"
    assert _green_bar(second) > 240 * 30  # still the stream, a newer frame (the frame counter moved)


def test_q_in_the_window_stops_the_pipeline(gui_python, x_display, ssd, tmp_path):
    xdotool = ensure_tool("xdotool", "xdotool")
    proc = _run(gui_python, x_display, ssd, frames=30 * 120)  # would take 2 minutes
    try:
        _wait_for_window(proc, x_display, tmp_path)
        started = time.monotonic()
        window = subprocess.run([xdotool, "search", "--sync", "--name", "^edge$"], capture_output=True, text=True,
                                env=dict(os.environ, DISPLAY=x_display), timeout=20).stdout.split()[0]
        subprocess.run([xdotool, "key", "--window", window, "q"], env=dict(os.environ, DISPLAY=x_display),
                       check=True, timeout=20)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert time.monotonic() - started < 20
    frames = int(out.split("frames:")[1].split()[0])
    assert 0 < frames < 30 * 60


def test_headless_opencv_explains_why_there_is_no_window(x_display, ssd):
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("opencv-python-headless")
    except PackageNotFoundError:
        pytest.skip("this venv's OpenCV is not the headless build")
    proc = subprocess.run(edge_cmd("run", "--model", str(ssd), "--source", "synthetic://", "--sink", "display://",
                                   "--max-frames", "1"),
                          capture_output=True, text=True, env=dict(edge_env(), DISPLAY=x_display), timeout=60)
    assert proc.returncode == 2
    assert "this OpenCV has no GUI support (opencv-python-headless)" in proc.stderr
