"""A board in a box: flash our own int8 detector to an emulated arm64 Debian (qemu-user) over real ssh.

The simulated board (``deploy.sim``) is built once and cached outside the repo; the first build takes
minutes, later runs reuse it. The flash goes exactly as to a Raspberry Pi 5: the rpi5 profile's apt
packages (picamera2 is skipped by name: plain Debian has none), the bundle's venv on the distribution's
numpy and OpenCV, ``edge health``, the supervised service, ``edge bench`` fetched back, rollback. Answers are
checked against the same runs on this x86 host.

The suite is ``$EDGEVISION_SIM_SUITE`` (``make test-board SUITE=trixie``; default bookworm). What the board
showed (Python, numpy, OpenCV, timings, install size) is written to ``<sim cache>/<suite>.board-test.json``.
"""

from __future__ import annotations

import json
import os
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

# The first test's setup builds the root on a fresh cache (debootstrap under qemu: more than 10 min on 2 loaded
# cores), trains and exports the detector and makes the first flash (its apt step ~10 min): far past the
# default 600 s per test. The build and flash steps keep their own timeouts (deploy.sim, deploy.flash).
pytestmark = [pytest.mark.qemu, pytest.mark.timeout(7200)]

CLIP = "traffic_frames.mp4"  # 20 frames, 960x540
FRAMES = 20
SSD = "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
INSTALL_BUDGET_MB = 150.0
# Quantised kernels round differently on ARM (NEON) and x86 (AVX): an output may be one quantisation step
# apart, which moves a box by a few pixels and can push a score across the threshold. Measured figures are
# in docs/devices.md; a detection within SCORE_MARGIN of the threshold may be missing on the other side.
SCORE_MARGIN = 0.05
TOLERANCE = {  # model -> (box or keypoint px, score)
    "own": (3.0, 0.01),
    SSD: (4.0, 0.03),
    # keypoints (px; upstream's own test allows 21 px against truth) and the pose score; keypoint scores
    # move more (measured up to 0.38): the int8 heatmap peak they come from shifts by a cell.
    "movenet_single_pose_lightning_ptq.tflite": (12.0, 0.05),
}
SEGMENT_SHARE_TOL = 0.01
OWN_SCORE = 0.0  # the service keeps every candidate of our briefly trained detector  # share of the frame per class, DeepLab


# What each suite's Debian ships (Raspberry Pi OS of the same name): numpy and OpenCV version prefixes.
DISTRIBUTION = {"bookworm": ("1.24.", "4.6."), "trixie": ("2.2.", "4.10.")}


@pytest.fixture(scope="module")
def suite() -> str:
    name = os.environ.get("EDGEVISION_SIM_SUITE", "bookworm")
    if name not in sim.SUITES:
        pytest.fail(f"EDGEVISION_SIM_SUITE={name!r}: expected one of {', '.join(sim.SUITES)}", pytrace=False)
    return name


@pytest.fixture(scope="module")
def record(suite):
    """Figures seen on the board, written to <sim cache>/<suite>.board-test.json when the module ends."""
    data = {"suite": suite, "tested": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    yield data
    path = sim.cache_dir() / f"{suite}.board-test.json"
    if path.parent.is_dir():
        path.write_text(json.dumps(data, indent=1) + "\n")
        print(f"board figures: {path}")


@pytest.fixture(scope="module")
def board(suite, record):
    reason = sim.unavailable_reason()
    if reason:
        pytest.skip(reason)
    was_running = sim.running(suite) is not None
    was_built = sim.built(suite)
    started = time.monotonic()
    b = sim.start(suite)
    seconds = time.monotonic() - started
    print(f"simulated {suite} board ready in {seconds:.0f} s (running before: {was_running}, built before: {was_built})")
    stamp = json.loads((b.root / sim.MARKER.lstrip("/")).read_text())
    record.update(start_s=round(seconds, 1), built_before=was_built, build_s=stamp.get("build_seconds"))
    try:
        probe = ssh_run(Target(b.host, b.port, b.key, b.known_hosts, "edgevision", "python3"),
                        ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], 300)
        python = probe.stdout.strip()
        record["python"] = python
        if python != sim.SUITES[suite]:
            pytest.fail(f"the {suite} root at {b.root} runs Python {python or probe.stderr.strip()!r}, "
                        f"sim.SUITES says {sim.SUITES[suite]}", pytrace=False)
        yield b
    finally:
        if not was_running:
            sim.stop(suite)


@pytest.fixture(scope="module")
def own_int8_detector(tmp_path_factory) -> Path:
    """train's own detector on drawn shapes (192x192, three short epochs: its scores follow the image),
    exported to int8 by export's CLI. Returns the .tflite file."""
    from export.cli import main as export_main
    from train.cli import main as train_main

    from tests.export.conftest import write_coco

    root = tmp_path_factory.mktemp("own")
    data = root / "data"
    write_coco(data, "train", 48, seed=1, size=192)
    write_coco(data, "val", 8, seed=2, size=192)
    run = root / "run"
    assert train_main(["detect", "--data", str(data), "--format", "coco", "--out", str(run), "--epochs", "3",
                       "--input-size", "192", "--batch", "8", "--no-progress"]) == 0
    out = root / "export"
    assert export_main([str(run), "--formats", "int8", "--calib-samples", "16", "--no-eval", "--out", str(out)]) == 0
    return out / "model_int8.tflite"


@pytest.fixture(scope="module")
def module_wheel(tmp_path_factory) -> Path:
    from deploy.bundle import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


def ssh_run(target: Target, argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(target.ssh(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def flashed(board, own_int8_detector, module_wheel, zoo, tmp_path_factory, record):
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
    config = out / "pipeline.toml"
    config.write_text(f'[[model]]\npath = "{own_int8_detector}"\nscore = {OWN_SCORE}\n')
    # max_fps=1: the service runs for the whole module; unpaced, its emulated inference kept one of the host's
    # two cores busy and slowed every other test (and the second flash) down
    request = BundleRequest("rpi5", config=config, source=f"file://{home}/{prefix}-data/clips/{CLIP}?loop=1&max_fps=1",
                            sinks=[f"jsonl://{jsonl}"], version="sim-v1", out=out, wheel=module_wheel)
    bundle = make_bundle(request)
    started = time.monotonic()
    result = flash(bundle, target, InstallOptions(health_timeout=300, settle=2), echo=sys.stderr, timeout=3600)
    seconds = time.monotonic() - started
    print(f"flash to the simulated board: {seconds:.0f} s")
    record.setdefault("flash_s", round(seconds))
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


def box_diff(a: dict, b: dict) -> float:
    return max(abs(p - q) for p, q in zip(a["box"], b["box"]))


def compare_detections(arm: list[dict], x86: list[dict], threshold: float, what: str) -> dict:
    """Frame by frame, both ways: every detection scoring at least ``threshold + SCORE_MARGIN`` has a partner of
    the same class on the other side (nearest box). Returns the worst box (px) and score differences."""
    assert len(arm) == len(x86), f"{what}: {len(arm)} frames on ARM, {len(x86)} on x86"
    worst = {"box_px": 0.0, "score": 0.0, "pairs": 0, "borderline": 0}
    for i, (ra, rb) in enumerate(zip(arm, x86)):
        for mine, other, side in ((rb, ra, "x86"), (ra, rb, "ARM")):
            for d in mine.get("detections", []):
                partners = [e for e in other.get("detections", []) if e["class_id"] == d["class_id"]]
                best = min(partners, key=lambda e: box_diff(d, e), default=None)
                if d["score"] < threshold + SCORE_MARGIN:
                    worst["borderline"] += best is None
                    continue
                assert best is not None, f"{what} frame {i}: {side} found {d} and the other side nothing of its class"
                worst["box_px"] = max(worst["box_px"], box_diff(d, best))
                worst["score"] = max(worst["score"], abs(d["score"] - best["score"]))
                worst["pairs"] += 1
    return worst


def x86_run(config: Path, source: str, out: Path, frames: int, extra: list[str] | None = None) -> list[dict]:
    argv = [sys.executable, "-m", "edge", "run", "--source", source, "--sink", f"jsonl://{out}", "--quiet",
            "--max-frames", str(frames)]
    argv += ["--config", str(config)] if config.suffix == ".toml" else ["--model", str(config), *(extra or [])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=config.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return read_jsonl(out.read_text())


def test_flash_installs_like_a_pi(flashed, suite, record):
    result, target = flashed["result"], flashed["target"]
    assert (result.version, result.detail["mode"]) == ("sim-v1", "supervisor")
    assert result.detail["skipped_packages"] == ["python3-picamera2"]  # reported by name, optional when headless
    health = ssh_run(target, [f"{target.prefix}/current/venv/bin/python", "-m", "edge", "health",
                              "--prefix", target.prefix])
    assert health.returncode == 0, health.stdout + health.stderr
    assert health.stdout.startswith("healthy: sim-v1") and "service pid" in health.stdout
    # the venv runs the distribution's numpy and OpenCV (bookworm: 1.24, 4.6; trixie: 2.2, 4.10), on aarch64
    probe = ssh_run(target, [f"{target.prefix}/current/venv/bin/python", "-c",
                             "import platform, numpy, cv2, importlib.util as u; print(platform.machine(), "
                             "numpy.__version__, cv2.__version__, numpy.__file__, u.find_spec('pip') is None)"])
    machine, np_version, cv_version, np_file, no_pip = probe.stdout.split()
    debs = ssh_run(target, ["dpkg-query", "-W", "-f", "${Version} ", "python3-numpy", "python3-opencv"]).stdout.split()
    record.update(numpy=np_version, opencv=cv_version, python3_numpy_deb=debs[0], python3_opencv_deb=debs[1])
    print(f"{suite} board: numpy {np_version} (python3-numpy {debs[0]}), OpenCV {cv_version} "
          f"(python3-opencv {debs[1]})")
    assert machine == "aarch64" and np_file.startswith("/usr/lib/python3/dist-packages/")
    assert [np_version, cv_version] == [sim.deb_upstream_version(v) for v in debs]
    numpy_prefix, opencv_prefix = DISTRIBUTION[suite]
    assert np_version.startswith(numpy_prefix) and cv_version.startswith(opencv_prefix)
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
    # Trained on drawn shapes, the detector is unsure on a street clip: its candidates score ~0.04, many
    # tied, so which 100 are kept differs with one rounding step; the frames, the task and the best score
    # are compared here, the kernels themselves in test_int8_kernels_neon_vs_x86.
    _, score_tol = TOLERANCE["own"]
    assert [r["frame"] for r in arm] == [r["frame"] for r in x86] == list(range(FRAMES))
    top = 0.0
    for ra, rb in zip(arm, x86):
        assert ra["task"] == rb["task"] == "detect" and ra["detections"] and rb["detections"]
        top = max(top, abs(max(d["score"] for d in ra["detections"]) - max(d["score"] for d in rb["detections"])))
    print(f"own int8 detector service, {FRAMES} frames: best score ARM vs x86 within {top:.4f}")
    assert top <= score_tol


RAW = ("import sys, numpy as np\n"
       "from ai_edge_litert.interpreter import Interpreter\n"
       "it = Interpreter(model_path=sys.argv[1], num_threads=1); it.allocate_tensors()\n"
       "it.set_tensor(it.get_input_details()[0]['index'], np.load(sys.argv[2])); it.invoke()\n"
       "np.save(sys.argv[3], np.concatenate([it.get_tensor(d['index']).astype(np.int32).ravel()"
       " for d in it.get_output_details()]))\n")


def test_int8_kernels_neon_vs_x86(flashed, zoo, tmp_path):
    """Our int8 detector's raw int8 outputs for one identical input tensor: ARM (XNNPACK NEON under qemu)
    against x86 (AVX): the number of quantisation steps they differ by."""
    import cv2
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    target = flashed["target"]
    model = next(Path(flashed["bundle"], "models").glob("*.tflite"))
    it = Interpreter(model_path=str(model), num_threads=1)
    it.allocate_tensors()
    detail = it.get_input_details()[0]
    _, h, w, _ = detail["shape"]
    ok, frame = cv2.VideoCapture(str(zoo / "video" / CLIP)).read()
    assert ok
    tensor = cv2.resize(frame, (w, h))[None].astype(detail["dtype"])
    np.save(tmp_path / "input.npy", tensor)
    (tmp_path / "raw.py").write_text(RAW)
    data = f"{target.prefix}-data"
    copy = subprocess.run(target.rsync(tmp_path, f"{data}/raw", delete=False), capture_output=True, text=True)
    assert copy.returncode == 0, copy.stderr
    proc = ssh_run(target, [f"{target.prefix}/current/venv/bin/python", f"{data}/raw/raw.py",
                            f"{target.prefix}/current/models/{model.name}", f"{data}/raw/input.npy",
                            f"{data}/raw/arm.npy"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    arm = np.load(flashed["home"] / data / "raw" / "arm.npy")
    it.set_tensor(detail["index"], tensor)
    it.invoke()
    x86 = np.concatenate([it.get_tensor(d["index"]).astype(np.int32).ravel() for d in it.get_output_details()])
    steps = np.abs(arm - x86)
    print(f"own int8 detector raw outputs: {steps.size} values, {int((steps > 0).sum())} differ, "
          f"max {int(steps.max())} quantisation step(s)")
    # measured (docs/devices.md): bookworm, three trainings: max 4 steps, 6.9-13.7 % of the values; trixie
    # (Python 3.13 wheel), one training: max 7 steps, 0.2 % of the values. Rounding differences compound
    # through the layers, so a few values may be several steps apart.
    assert steps.max() <= 10 and (steps > 0).mean() <= 0.25


ZOO_CASES = [  # model, image, extra `edge run` options
    (SSD, "cats_and_dogs.jpg", []),
    ("movenet_single_pose_lightning_ptq.tflite", "pose_image1.png", ["--task", "pose"]),
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
    assert a["task"] == b["task"]
    if b["task"] == "detect":
        worst = compare_detections(arm, x86, 0.3, model)  # edge run's default --score
        assert worst["pairs"] >= 4  # upstream's four animals at least
        box_tol, score_tol = TOLERANCE[model]
        assert worst["box_px"] <= box_tol and worst["score"] <= score_tol, worst
    elif b["task"] == "pose":
        (pa,), (pb,) = a["poses"], b["poses"]
        px = max(max(abs(ka[0] - kb[0]), abs(ka[1] - kb[1])) for ka, kb in zip(pa["keypoints"], pb["keypoints"]))
        sc = max(abs(ka[2] - kb[2]) for ka, kb in zip(pa["keypoints"], pb["keypoints"]))
        worst = {"keypoint_px": px, "pose_score": abs(pa["score"] - pb["score"]), "keypoint_score": sc,
                 "keypoints": len(pb["keypoints"])}
        box_tol, score_tol = TOLERANCE[model]
        assert px <= box_tol and worst["pose_score"] <= score_tol, worst
    else:
        ca, cb = a["segmentation"]["classes"], b["segmentation"]["classes"]
        big = lambda c: {k for k, v in c.items() if v >= 2 * SEGMENT_SHARE_TOL}
        assert big(ca) == big(cb), (ca, cb)
        share = max(abs(ca.get(k, 0.0) - cb.get(k, 0.0)) for k in set(ca) | set(cb))
        worst = {"class_share": share, "classes": sorted(cb)}
        assert share <= SEGMENT_SHARE_TOL, (ca, cb)
    print(f"{model} on {image}: ARM vs x86 {worst}")


def test_install_fits_on_the_board(flashed, record):
    release = flashed["home"] / flashed["prefix"] / "releases" / "sim-v1"
    total = sim.size_mb(release)
    venv = sim.size_mb(release / "venv")
    record.update(install_mb=round(total, 1), venv_mb=round(venv, 1), budget_mb=INSTALL_BUDGET_MB)
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
    second = make_bundle(BundleRequest(request.device, config=request.config, source=request.source, sinks=request.sinks,
                                       version="sim-v2", out=flashed["out"], wheel=module_wheel))
    result = flash(second, target, InstallOptions(health_timeout=300, settle=2), echo=sys.stderr, timeout=3600)
    assert (result.status, result.version, result.previous) == ("ok", "sim-v2", "sim-v1"), result.reason
    back = rollback(target, health_timeout=300)
    assert (back.status, back.version, back.previous) == ("ok", "sim-v1", "sim-v2"), back.reason
    assert status(target).version == "sim-v1"
    assert stop(target).status == "ok"
