"""Distributed training for real, on CPU: MirroredStrategy over two logical CPU devices, and a two-process
MultiWorkerMirroredStrategy cluster on 127.0.0.1 (TF_CONFIG). Each run is a subprocess (the device split
and the collective server must be set before TensorFlow starts) with a timeout, so a deadlock fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from train.distribute import StrategyError, chief_of, pick_distribution
from train.synth import SynthConfig, generate

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = int(os.environ.get("EDGEVISION_DIST_TIMEOUT", 300))
DRIVER = """
import logging
import sys
from pathlib import Path
from train.datasets import load_detection_data
from train.detect import TrainConfig, train_detector

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
data = load_detection_data(Path(sys.argv[1]), "coco")
cfg = TrainConfig(out=Path(sys.argv[2]), epochs=1, batch=8, input_size=64, width=0.35, allow_small_input=True,
                  show_progress=True, strategy=sys.argv[3])
train_detector(cfg, data)
"""


@pytest.fixture(scope="module")
def tiny_synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(root, train=16, val=4, size=64, seed=0))
    return root


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "EDGEVISION_LOGICAL_CPUS")}
    env.update(PYTHONPATH=str(ROOT), TF_USE_LEGACY_KERAS="1", PYTHONFAULTHANDLER="1", CUDA_VISIBLE_DEVICES="", **extra)
    return env


def _start(data: Path, out: Path, strategy: str, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(data), str(out), strategy], cwd=ROOT,
                            env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(procs: list[subprocess.Popen]) -> list[str]:
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=TIMEOUT_S)[0])
    except subprocess.TimeoutExpired:
        tails = []
        for p in procs:  # SIGABRT: faulthandler prints where each process was stuck
            p.send_signal(signal.SIGABRT) if p.poll() is None else None
            tails.append((p.communicate()[0] or "")[-3000:])
        pytest.fail(f"distributed training did not finish in {TIMEOUT_S} s (deadlock?)\n" + "\n---\n".join(tails))
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-4000:]
    return outputs


def _assert_run_folder(out: Path) -> None:
    run = json.loads((out / "run.json").read_text())
    assert run["metrics"].keys() >= {"map50", "map50_95"}
    rows = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1]
    assert (out / "checkpoints" / "checkpoint").is_file()
    from train.saved_model import load_model

    model = load_model(out / "model.keras")
    assert tuple(model.input_shape) == (None, 64, 64, 3)


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_mirrored_over_two_logical_cpus_writes_a_loadable_run(tiny_synth, tmp_path):
    out = tmp_path / "mirrored"
    (text,) = _finish([_start(tiny_synth, out, "mirrored", EDGEVISION_LOGICAL_CPUS="2")])
    assert "strategy mirrored: 2 replica(s), chief True" in text
    assert "epoch 1/1:" in text
    _assert_run_folder(out)


def test_two_process_multiworker_only_the_chief_writes(tiny_synth, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    outs = [tmp_path / "worker0", tmp_path / "worker1"]  # separate folders: what each worker writes shows
    procs = [_start(tiny_synth, outs[i], "multiworker",
                    TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
             for i in range(2)]
    chief_text, other_text = _finish(procs)
    _assert_run_folder(outs[0])
    assert not outs[1].exists(), sorted(str(p) for p in outs[1].rglob("*"))
    assert "strategy multiworker: 2 replica(s), chief True" in chief_text
    assert "strategy multiworker: 2 replica(s), chief False" in other_text
    assert "epoch 1/1:" in chief_text and "epoch 1/1:" not in other_text


@pytest.mark.parametrize("config, chief", [
    ({"cluster": {"worker": ["a", "b"]}, "task": {"type": "worker", "index": 0}}, True),
    ({"cluster": {"worker": ["a", "b"]}, "task": {"type": "worker", "index": 1}}, False),
    ({"cluster": {"chief": ["a"], "worker": ["b"]}, "task": {"type": "chief", "index": 0}}, True),
    ({"cluster": {"chief": ["a"], "worker": ["b"]}, "task": {"type": "worker", "index": 0}}, False),
])
def test_chief_is_the_chief_task_or_worker_zero(config, chief):
    assert chief_of(config) is chief


@pytest.mark.parametrize("name, env, message", [
    ("sideways", {}, "expected one of auto, default, mirrored, multiworker"),
    ("multiworker", {}, "needs TF_CONFIG"),
    ("multiworker", {"TF_CONFIG": "{not json"}, "TF_CONFIG is not valid JSON"),
    ("multiworker", {"TF_CONFIG": '{"cluster": {}}'}, "expected {\"cluster\""),
    ("default", {"EDGEVISION_LOGICAL_CPUS": "two"}, "EDGEVISION_LOGICAL_CPUS='two'"),
])
def test_bad_strategy_requests_are_refused_by_name(monkeypatch, name, env, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("EDGEVISION_LOGICAL_CPUS", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(StrategyError, match=None) as err:
        pick_distribution(name)
    assert message in str(err.value)
