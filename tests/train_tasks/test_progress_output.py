"""One output style for every training command: a bar on a terminal, one line per epoch in a pipe (no bar
bytes, no duplicate lines), no CUDA probing noise on a CPU host; and no run folder left by a failed start."""

from __future__ import annotations

import fcntl
import glob
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from train.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = ["classify", "--epochs", "2", "--input-size", "32", "--batch", "8", "--synth-train", "16", "--synth-val", "8"]
CPU_HOST = not glob.glob("/dev/nvidia[0-9]*")


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_USE_LEGACY_KERAS="1")
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    env.pop("CUDA_VISIBLE_DEVICES", None)  # train.device sets it in this process when an earlier test imported it
    return env


@pytest.mark.training
def test_in_a_pipe_one_line_per_epoch_and_no_noise(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "train", *TINY, "--out", str(tmp_path / "run")], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]
    assert "\r" not in proc.stdout + proc.stderr and "it/s" not in proc.stderr  # no bar in a file
    assert "top5" not in proc.stdout  # 5 synthetic classes: top-5 is 100 % by rule
    if CPU_HOST:
        assert lines[0] == "training runs on the CPU: no NVIDIA GPU on this host (no /dev/nvidia* device)"
        assert "cuInit" not in proc.stderr and "cuda" not in proc.stderr.lower(), proc.stderr


@pytest.mark.training
def test_on_a_terminal_a_bar(tmp_path):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen([sys.executable, "-m", "train", *TINY, "--out", str(tmp_path / "run")], cwd=tmp_path,
                            env=_env(), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO once the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=600) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "epoch 1/2" in text and "\r" in text and ("it/s" in text or "s/it" in text), text[-2000:]
    assert text.count("epoch 2/2: loss") == 1


def test_a_bad_option_leaves_no_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--out", str(out), "--freeze-epochs", "1"]) == 2
    assert "--freeze-epochs 1 needs --weights" in capsys.readouterr().err
    assert not out.exists()


def test_bad_data_leaves_no_run_folder_but_keeps_a_folder_that_existed(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    out = tmp_path / "run"
    assert main(["classify", "--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "1"]) == 2
    assert "error:" in capsys.readouterr().err and not out.exists()
    out.mkdir()  # the user's own empty folder stays, empty
    assert main(["classify", "--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "1"]) == 2
    assert out.is_dir() and not any(out.iterdir())


@pytest.mark.parametrize("option", [["--input-size", "64"], ["--width", "0.5"]])
def test_enhance_refuses_the_square_input_and_width_options_it_would_ignore(tmp_path, capsys, option):
    """The enhancer's resolution is --input-width/--input-height and it has no backbone width: the options
    are refused by name instead of being accepted and ignored."""
    with pytest.raises(SystemExit) as exc:
        main(["enhance", "--out", str(tmp_path / "run"), *option])
    assert exc.value.code == 2 and f"unrecognized arguments: {option[0]}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
