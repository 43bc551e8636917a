"""Shared fixtures. The zoo of real third-party models lives beside the repo in ../shared/zoo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Under pytest-xdist the workers share the cores: each TensorFlow (and every subprocess it starts) gets its share
# of threads instead of one per core each. Two workers on 2 cores, two trainings side by side: about 9 % less
# time than with two threads each, which only fight over the same cores (2026-12-07).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _THREADS = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _THREADS)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", _THREADS)

REPO = Path(__file__).resolve().parent.parent
ZOO = Path(os.environ.get("EDGEVISION_ZOO", REPO.parent / "shared" / "zoo"))


@pytest.fixture(scope="session")
def zoo() -> Path:
    if not (ZOO / "models").is_dir():
        pytest.skip(f"the model zoo is absent at {ZOO} (set EDGEVISION_ZOO to its path)")
    return ZOO


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def trained_task_runs(tmp_path_factory) -> dict[str, Path]:
    """task -> a tiny synthetic run folder of every non-detection task, trained for two epochs by the real CLI
    (`python -m train <task>`, tests/export/task_cases.py) once per session; what the CLI printed is in
    ``<run>.printed.txt`` beside each folder, and its run.json as training left it in ``<run>.trained.json`` (an
    export refreshes the run's validation figure with the file it wrote). tests/export exports them;
    train_tasks/test_tiny_training.py checks the folders, so both are one xdist group (below)."""
    import contextlib
    import io

    from train.cli import main as train_main

    from tests.export.task_cases import CASES

    root = tmp_path_factory.mktemp("task_runs")
    cwd = os.getcwd()
    os.chdir(root)  # the synthetic sets are written to ./data
    done = {}
    try:
        for task, (args, *_rest) in CASES.items():
            out = root / f"run_{task}"
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                rc = train_main([task, "--out", str(out), "--epochs", "2", *args])
            (root / f"run_{task}.printed.txt").write_text(printed.getvalue())
            if rc != 0:
                pytest.fail(f"python -m train {task} exited {rc}:\n{printed.getvalue()[-2000:]}")
            shutil.copy(out / "run.json", root / f"run_{task}.trained.json")  # before an export refreshes it
            done[task] = out
    finally:
        os.chdir(cwd)
    return done


# Folders whose tests all import TensorFlow, train, convert or start sshd: slow by what they do.
_SLOW_FOLDERS = {"train": "training", "train_tasks": "training", "export": "conversion",
                 "optimize": "conversion", "devices": "sshd"}
_CAUSES = ("training", "conversion", "sshd", "browser", "xdisplay", "gstreamer", "qemu")


# `make test` and `make test-fast` run two pytest-xdist workers (`-n 2 --dist loadgroup`): most tests use one
# core (a tiny model, a subprocess, a socket), so two workers use both. A module's tests stay on one worker (its
# module fixtures are made once); the folders below, whose modules share a costly session fixture (the trained
# runs of tests/export and tests/optimize, the sshd and wheel of tests/devices), stay together as a whole.
_SHARED_FOLDERS = {"export", "optimize", "devices"}
_SHARED_MODULES = {"train_tasks/test_tiny_training.py": "export"}  # the trained task runs of tests/export
# The longest groups are handed out first, longest first, so that the two workers finish together (the Makefile
# passes --no-loadscope-reorder, else xdist hands out the groups with the most tests first, which puts the board,
# 8 tests, near the end): the order of the time table below in a full run (2026-12-06); the rest are short.
_FIRST = ("board", "export", "optimize", "devices", "train/test_distribute.py",
          "train/test_training.py", "tracking/test_clip_tracking.py", "train_tasks/test_one_loop.py",
          "train_tasks/test_progress_output.py")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Every test marked with a cause of slowness is also `slow`; `make test-fast` runs `-m "not slow"`.
    Every test gets its xdist group."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        cause = _SLOW_FOLDERS.get(parts[0]) if len(parts) > 1 else None
        if cause:
            item.add_marker(getattr(pytest.mark, cause))
        if any(item.get_closest_marker(c) for c in _CAUSES):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("qemu") and os.environ.get("EDGEVISION_BOARD_SIM") == "0":
            item.add_marker(pytest.mark.skip(reason=_QEMU_SKIP))
        module = "/".join(parts)
        group = ("board" if item.get_closest_marker("qemu") else
                 parts[0] if parts[0] in _SHARED_FOLDERS and len(parts) > 1 else _SHARED_MODULES.get(module, module))
        item.add_marker(pytest.mark.xdist_group(group))
    rank = {g: i for i, g in enumerate(_FIRST)}
    items.sort(key=lambda it: rank.get(it.get_closest_marker("xdist_group").args[0], len(rank)))  # stable


# The emulated board (tests/devices/test_sim_board.py) is part of `make test`: 814 s on a fresh machine (the root
# build 244 s, the first flash with its apt step 318 s; 2026-12-06), 333 s once the root is cached and holds the
# profile's packages, on one of the two workers while the other runs the rest. EDGEVISION_BOARD_SIM=0 leaves it
# out (`make test-board` runs it alone).
_QEMU_SKIP = "EDGEVISION_BOARD_SIM=0: the emulated arm64 board is left out (`make test-board` runs it)"


# Where `make test`'s time goes, per xdist group and worker: the controller adds up every phase's duration of every
# test report (a group's tests run on one worker, in a row) and prints one table at the end of the run, the
# longest groups first, with each group's start and end on its worker's clock; the base for balancing the groups.
_GROUP_TIMES: dict[tuple[str, str], list[float]] = {}  # (worker, group) -> [seconds, first start, last stop]


def pytest_runtest_logreport(report):
    worker = getattr(getattr(report, "node", None), "gateway", None)
    if worker is None or "@" not in report.nodeid:  # not a test run by an xdist worker
        return
    key = (worker.id, report.nodeid.rsplit("@", 1)[1])
    row = _GROUP_TIMES.setdefault(key, [0.0, report.start or float("inf"), report.stop or 0.0])
    row[0] += report.duration
    row[1], row[2] = min(row[1], report.start or row[1]), max(row[2], report.stop or row[2])


def pytest_terminal_summary(terminalreporter):
    if not _GROUP_TIMES:
        return
    t0 = min(row[1] for row in _GROUP_TIMES.values())
    busy: dict[str, float] = {}
    lines = []
    for (worker, group), (seconds, start, stop) in sorted(_GROUP_TIMES.items(), key=lambda kv: -kv[1][0]):
        busy[worker] = busy.get(worker, 0.0) + seconds
        lines.append(f"{seconds:8.1f} s  {worker}  {start - t0:7.0f} .. {stop - t0:7.0f} s  {group}")
    terminalreporter.write_sep("=", "time per xdist group (tests/conftest.py)")
    for line in lines[:30]:
        terminalreporter.write_line(line)
    if len(lines) > 30:
        terminalreporter.write_line(f"... and {len(lines) - 30} shorter groups")
    per_worker = ", ".join(f"{w} {s / 60:.1f} min" for w, s in sorted(busy.items()))
    terminalreporter.write_line(f"busy per worker: {per_worker}; {sum(busy.values()) / 60:.1f} min in all")
