"""A board in a box: flash our own int8 detector to an emulated arm64 Debian (qemu-user) over real ssh.

The simulated board (``deploy.sim``) is built once and cached outside the repo; the first build takes
minutes, later runs reuse it. The flash goes exactly as to a Raspberry Pi 5: the rpi5 profile's apt
packages (picamera2 is skipped by name: plain Debian has none), the bundle's venv on the distribution's
numpy and OpenCV, ``edge health``, the supervised service, ``edge bench`` fetched back, rollback. Answers are
checked against the same runs on this x86 host.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from deploy import sim
from deploy.bundle import BundleRequest, make_bundle
from deploy.flash import InstallOptions, flash, rollback, status, stop
from deploy.remote_bench import remote_bench
from deploy.ssh import Target

pytestmark = pytest.mark.qemu

CLIP = "traffic_frames.mp4"  # 20 frames, 960x540
FRAMES = 20
SSD = "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
INSTALL_BUDGET_MB = 150.0
BOX_TOL_PX = 1.0  # zoo models: the same boxes on ARM and x86 within a pixel
INT8_BOX_TOL_PX = 2.0  # our int8 detector: NEON and x86 int8 kernels may round one step apart (see docs/devices.md)


@pytest.fixture(scope="module")
def board():
    reason = sim.unavailable_reason()
    if reason:
        pytest.skip(reason)
    was_running = sim.running() is not None
    started = time.monotonic()
    b = sim.start()
    print(f"simulated board ready in {time.monotonic() - started:.0f} s (built before: {was_running})")
    yield b
    if not was_running:
        sim.stop()


@pytest.fixture(scope="module")
def own_int8_detector(tmp_path_factory) -> Path:
    """train's own detector (64x64, two shapes), exported to int8 by export's CLI; no training."""
    from export.cli import main as export_main

    from tests.export.conftest import make_run, write_coco

    root = tmp_path_factory.mktemp("own")
    data = root / "data"
    write_coco(data, "train", 24, seed=1)
    write_coco(data, "val", 8, seed=2)
    run = make_run(root / "run", data)
    out = root / "export"
    assert export_main([str(run), "--formats", "int8", "--calib-samples", "16", "--no-eval", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def module_wheel(tmp_path_factory) -> Path:
    from deploy.bundle import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


def ssh_run(target: Target, argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(target.ssh(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def flashed(board, own_int8_detector, module_wheel, zoo, tmp_path_factory):
    """Our int8 detector flashed to the board (rpi5 profile), its service reading the zoo clip in a loop."""
    prefix = f"ev-{uuid.uuid4().hex[:8]}"
    target = Target(board.host, board.port, board.key, board.known_hosts, prefix, "python3")
    home = "/home/pi"
    proc = ssh_run(target, ["mkdir", "-p", f"{prefix}-data/clips", f"{prefix}-data/out"])
    assert proc.returncode == 0, proc.stderr
    copy = subprocess.run(target.rsync(zoo / "video", f"{prefix}-data/clips", delete=False),
                          capture_output=True, text=True, timeout=300)
    assert copy.returncode == 0, copy.stderr
    out = tmp_path_factory.mktemp("bundles")
    jsonl = f"{home}/{prefix}-data/out/frames.jsonl"
    request = BundleRequest("rpi5", [own_int8_detector], source=f"file://{home}/{prefix}-data/clips/{CLIP}?loop=1",
                            sinks=[f"jsonl://{jsonl}"], version="sim-v1", out=out, wheel=module_wheel)
    bundle = make_bundle(request)
    started = time.monotonic()
    result = flash(bundle, target, InstallOptions(health_timeout=300, settle=2), echo=sys.stderr, timeout=3600)
    seconds = time.monotonic() - started
    print(f"flash to the simulated board: {seconds:.0f} s")
    assert result.status == "ok", result.reason
    try:
        yield {"target": target, "bundle": bundle, "result": result, "jsonl": jsonl, "prefix": prefix,
               "root": board.root, "home": board.root / "home" / "pi", "out": out, "request": request,
               "flash_s": seconds}
    finally:
        ssh_run(target, ["python3", "-c", STOP_ALL, prefix], 120)
        ssh_run(target, ["rm", "-rf", prefix, f"{prefix}-data", "bench"], 300)


STOP_ALL = ("import os,signal,sys,time\n"
            "p=os.path.join(os.path.expanduser('~'),sys.argv[1],'run','supervisor.pid')\n"
            "try: pid=int(open(p).read())\n"
            "except Exception: sys.exit(0)\n"
            "os.kill(pid,signal.SIGTERM)\n"
            "[time.sleep(0.1) for _ in range(200) if os.path.exists('/proc/%d'%pid)]\n")


def read_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def detections(record: dict) -> list[tuple]:
    return [(d["class_id"], d["box"]) for d in record.get("detections", [])]


def assert_same_detections(arm: list[dict], x86: list[dict], tol: float, what: str) -> float:
    """Frame by frame: same number of detections, same classes, boxes within tol pixels. Returns the max."""
    assert len(arm) == len(x86), f"{what}: {len(arm)} frames on ARM, {len(x86)} on x86"
    worst = 0.0
    for i, (a, b) in enumerate(zip(arm, x86)):
        da, db = sorted(detections(a), key=lambda d: (d[0], d[1])), sorted(detections(b), key=lambda d: (d[0], d[1]))
        assert [c for c, _ in da] == [c for c, _ in db], f"{what} frame {i}: classes {da} vs {db}"
        for (_, ba), (_, bb) in zip(da, db):
            worst = max(worst, max(abs(p - q) for p, q in zip(ba, bb)))
    assert worst <= tol, f"{what}: boxes differ by up to {worst:.2f} px (tolerance {tol})"
    return worst


def x86_run(config: Path, source: str, out: Path, frames: int, extra: list[str] | None = None) -> list[dict]:
    argv = [sys.executable, "-m", "edge", "run", "--source", source, "--sink", f"jsonl://{out}", "--quiet",
            "--max-frames", str(frames)]
    argv += ["--config", str(config)] if config.suffix == ".toml" else ["--model", str(config), *(extra or [])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=config.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return read_jsonl(out.read_text())


def test_flash_installs_like_a_pi(flashed):
    result, target = flashed["result"], flashed["target"]
    assert (result.version, result.detail["mode"]) == ("sim-v1", "supervisor")
    assert result.detail["skipped_packages"] == ["python3-picamera2"]  # reported by name, optional when headless
    health = ssh_run(target, [f"{target.prefix}/current/venv/bin/python", "-m", "edge", "health",
                              "--prefix", target.prefix])
    assert health.returncode == 0, health.stdout + health.stderr
    assert health.stdout.startswith("healthy: sim-v1") and "service pid" in health.stdout
    # the venv runs the distribution's numpy and OpenCV (bookworm: 1.24, 4.6), on aarch64
    probe = ssh_run(target, [f"{target.prefix}/current/venv/bin/python", "-c",
                             "import platform, numpy, cv2, importlib.util as u; print(platform.machine(), "
                             "numpy.__version__, cv2.__version__, numpy.__file__, u.find_spec('pip') is None)"])
    machine, np_version, cv_version, np_file, no_pip = probe.stdout.split()
    assert machine == "aarch64" and np_file.startswith("/usr/lib/python3/dist-packages/")
    assert np_version.startswith("1.24.") and cv_version.startswith("4.6.")
    assert no_pip == "True"  # no pip/setuptools left in the service venv


def test_service_lines_match_x86(flashed, zoo, tmp_path):
    """The running service's JSON lines on the zoo clip = `edge run` of the same bundle on x86."""
    path = flashed["home"] / flashed["jsonl"].split("/home/pi/", 1)[1]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) > FRAMES:
            break
        time.sleep(1)
    fetched = ssh_run(flashed["target"], ["head", "-n", str(FRAMES), flashed["jsonl"]])
    arm = read_jsonl(fetched.stdout)
    assert len(arm) == FRAMES, fetched.stderr
    x86 = x86_run(flashed["bundle"] / "pipeline.toml", f"file://{zoo / 'video' / CLIP}", tmp_path / "x86.jsonl",
                  FRAMES)
    worst = assert_same_detections(arm, x86, INT8_BOX_TOL_PX, "own int8 detector")
    total = sum(len(r.get("detections", [])) for r in x86)
    print(f"own int8 detector, {FRAMES} frames, {total} detections: ARM vs x86 boxes differ by at most {worst:.3f} px")


ZOO_CASES = [  # model, image, extra `edge run` options
    (SSD, "cats_and_dogs.jpg", []),
    ("movenet_single_pose_lightning_ptq.tflite", "pose_person.jpg", ["--task", "pose"]),
    ("deeplabv3_mnv2_pascal_quant.tflite", "cats_and_dogs.jpg", ["--task", "segment"]),
]


@pytest.mark.parametrize("model,image,extra", ZOO_CASES, ids=["ssd", "movenet", "deeplab"])
def test_zoo_models_answer_the_same_on_arm(flashed, zoo, tmp_path, model, image, extra):
    target = flashed["target"]
    data = f"{target.prefix}-data"
    copy = subprocess.run(target.rsync(zoo / "models", f"{data}/models", delete=False)[:-2]
                          + [f"{zoo / 'models' / model}", f"{zoo / 'images' / image}",
                             f"{target.host}:{data}/models/"], capture_output=True, text=True, timeout=300)
    assert copy.returncode == 0, copy.stderr
    remote_out = f"/home/pi/{data}/out/{Path(model).stem}.jsonl"
    argv = [f"{target.prefix}/current/venv/bin/python", "-m", "edge", "run", "--model", f"{data}/models/{model}",
            "--source", f"file:///home/pi/{data}/models/{image}", "--sink", f"jsonl://{remote_out}", "--quiet",
            "--max-frames", "1", *extra]
    proc = ssh_run(target, argv)
    assert proc.returncode == 0, proc.stderr[-2000:]
    arm = read_jsonl(ssh_run(target, ["cat", remote_out]).stdout)
    x86 = x86_run(zoo / "models" / model, f"file://{zoo / 'images' / image}", tmp_path / "x86.jsonl", 1, extra)
    assert len(arm) == len(x86) == 1
    a, b = arm[0], x86[0]
    if b.get("detections"):
        worst = assert_same_detections(arm, x86, BOX_TOL_PX, model)
        print(f"{model}: {len(b['detections'])} detections, ARM vs x86 within {worst:.3f} px")
    for key in ("keypoints", "poses"):
        if b.get(key):
            flat = lambda r: [v for p in r[key] for kp in (p.get("keypoints", p) if isinstance(p, dict) else p)
                              for v in (kp[:2] if isinstance(kp, list) else [kp])]
            diff = max(abs(p - q) for p, q in zip(flat(a), flat(b)))
            assert diff <= BOX_TOL_PX, f"{model}: keypoints differ by {diff}"
    for key in ("classes", "mask", "segments", "label_counts"):
        if key in b:
            assert a[key] == b[key], f"{model}: {key} differs"
    assert set(a) == set(b)


def test_install_fits_on_the_board(flashed):
    release = flashed["home"] / flashed["prefix"] / "releases" / "sim-v1"
    total = sim.size_mb(release)
    venv = sim.size_mb(release / "venv")
    print(f"device install (release incl. venv, measured in the simulated root): {total:.1f} MB, venv {venv:.1f} MB")
    assert total <= INSTALL_BUDGET_MB
    site = list((release / "venv" / "lib").glob("python3*/site-packages"))[0]
    assert not list(site.glob("pip")) and not list(site.glob("setuptools"))


def test_bench_report_comes_back_marked_emulated(flashed, tmp_path):
    target = flashed["target"]
    model = f"models/{next(Path(flashed['bundle'], 'models').glob('*.tflite')).name}"
    report = remote_bench(target, ["--", "--model", model, "--runs", "5", "--warmup", "1", "--threads", "1"],
                          tmp_path / "bench")
    data = json.loads((report / "bench.json").read_text())
    assert data["board"] == "rpi5" and data["system"]["machine"] == "aarch64"
    assert data["system"]["emulated"] and "qemu" in data["system"]["emulated"]
    assert all(m["reference"]["verdict"] == "emulated" for m in data["models"])
    assert "**Emulated:**" in (report / "bench.md").read_text()


def test_rollback_on_the_board(flashed, module_wheel):
    """A second release goes in, then `rollback` returns to the first; both through the supervisor."""
    target, request = flashed["target"], flashed["request"]
    second = make_bundle(BundleRequest(request.device, request.models, source=request.source, sinks=request.sinks,
                                       version="sim-v2", out=flashed["out"], wheel=module_wheel))
    result = flash(second, target, InstallOptions(health_timeout=300, settle=2), echo=sys.stderr, timeout=3600)
    assert (result.status, result.version, result.previous) == ("ok", "sim-v2", "sim-v1"), result.reason
    back = rollback(target, health_timeout=300)
    assert (back.status, back.version, back.previous) == ("ok", "sim-v1", "sim-v2"), back.reason
    assert status(target).version == "sim-v1"
    assert stop(target).status == "ok"
