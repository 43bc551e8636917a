"""Flash, health check, supervised service restart, rollback and interrupted flashes, against a real sshd."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import DEVICE_PYTHON
from deploy.errors import DeployError
from deploy.flash import flash, rollback, status
from deploy.remote_install import verify_manifest
from deploy.ssh import Target

pytestmark = pytest.mark.slow


def target_for(server, prefix: str, known_hosts: Path | None = None) -> Target:
    return Target(server.host, server.port, server.key, known_hosts or server.known_hosts, prefix, DEVICE_PYTHON)


def supervisor(prefix: str) -> dict:
    return json.loads((Path(prefix) / "run" / "supervisor.json").read_text())


def remote_health(target: Target, min_uptime: float = 0) -> subprocess.CompletedProcess:
    python = target.path("current", "venv", "bin", "python")
    argv = [python, "-m", "edge", "health", "--prefix", target.prefix, "--min-uptime", str(min_uptime)]
    return subprocess.run(target.ssh(argv),
                          capture_output=True, text=True, timeout=120)


def test_flash_installs_runs_and_rolls_back(sshd, device_prefix, bundle_for, install_options):
    target = target_for(sshd, device_prefix)
    v1 = bundle_for("v1")
    first = flash(v1, target, install_options, echo=None)
    assert first.status == "ok", first.reason
    assert (first.version, first.previous, first.detail["mode"]) == ("v1", None, "supervisor")

    prefix = Path(device_prefix)
    assert os.readlink(prefix / "current") == "releases/v1"
    # the files landed and match the manifest; the device venv holds the edge wheel
    assert verify_manifest(prefix / "current")["version"] == "v1"
    site = subprocess.run([str(prefix / "current/venv/bin/python"), "-c", "import edge; print(edge.__file__)"],
                          capture_output=True, text=True, check=True, cwd="/").stdout
    assert site.startswith(str(prefix / "current/venv/lib/")) and "site-packages/edge/" in site

    # the supervised service runs v1's pipeline, and `edge health` over ssh says so
    state1 = supervisor(device_prefix)
    assert state1["release"] == str(prefix / "releases/v1")
    assert "--config" in state1["command"] and Path(f"/proc/{state1['child_pid']}").exists()
    health = remote_health(target)
    assert health.returncode == 0, health.stdout + health.stderr
    assert health.stdout.startswith("healthy: v1: coco_ssd_mobilenet") and "service pid" in health.stdout

    # a second version: the service restarts on it, v1 is kept as previous
    second = flash(bundle_for("v2"), target, install_options, echo=None)
    assert (second.status, second.version, second.previous) == ("ok", "v2", "v1")
    state2 = supervisor(device_prefix)
    assert state2["release"] == str(prefix / "releases/v2")
    assert state2["pid"] != state1["pid"] and not Path(f"/proc/{state1['child_pid']}").exists()
    assert os.readlink(prefix / "previous") == "releases/v1"

    # rollback switches back and restarts on v1
    back = rollback(target, health_timeout=60)
    assert (back.status, back.version, back.previous) == ("ok", "v1", "v2")
    assert os.readlink(prefix / "current") == "releases/v1"
    assert supervisor(device_prefix)["release"] == str(prefix / "releases/v1")
    assert status(target).detail["releases"] == ["v1", "v2"]

    # the service dies: health says so in one line, and the supervisor brings it back
    child = supervisor(device_prefix)["child_pid"]
    os.kill(child, signal.SIGKILL)
    down = remote_health(target, min_uptime=20)
    assert down.returncode == 1 and down.stdout.startswith("unhealthy: ") and len(down.stdout.splitlines()) == 1
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and supervisor(device_prefix).get("child_pid") == child:
        time.sleep(0.3)
    assert supervisor(device_prefix)["restarts"] == 1


def test_unhealthy_release_is_not_switched_in(sshd, device_prefix, bundle_for, install_options, zoo):
    target = target_for(sshd, device_prefix)
    assert flash(bundle_for("good"), target, install_options, echo=None).status == "ok"
    running = supervisor(device_prefix)
    # The Edge-TPU-compiled model cannot run on a CPU: the staged health check refuses it.
    bad = flash(bundle_for("bad", model="mobilenet_v1_0.25_128_quant_edgetpu_NEGATIVE.tflite"), target,
                install_options, echo=None)
    assert bad.status == "failed" and "health check of the new release failed" in bad.reason
    assert "Edge TPU" in bad.reason
    assert os.readlink(Path(device_prefix) / "current") == "releases/good"
    assert supervisor(device_prefix)["child_pid"] == running["child_pid"]
    assert not any(p.name.startswith((".incoming", "bad")) for p in (Path(device_prefix) / "releases").iterdir())


def test_rollback_without_previous_is_refused(sshd, device_prefix, bundle_for, install_options):
    target = target_for(sshd, device_prefix)
    assert flash(bundle_for("only"), target, install_options, echo=None).status == "ok"
    result = rollback(target)
    assert result.status == "failed" and "no previous release" in result.reason


@pytest.mark.parametrize("when", ["rsync", "install"])
def test_flash_killed_half_way_leaves_running_version(sshd, device_prefix, bundle_for, install_options, when,
                                                      tmp_path):
    target = target_for(sshd, device_prefix)
    assert flash(bundle_for("v1"), target, install_options, echo=None).status == "ok"
    before = supervisor(device_prefix)
    v2 = bundle_for("v2")
    code = (
        "import sys\nfrom deploy.flash import flash, InstallOptions\nfrom deploy.ssh import Target\n"
        f"t = Target({target.host!r}, {target.port}, {str(target.key)!r}, {str(target.known_hosts)!r}, "
        f"{device_prefix!r}, {DEVICE_PYTHON!r})\n"
        f"o = InstallOptions({DEVICE_PYTHON!r}, {install_options.site_packages!r}, True)\n"
        f"flash({str(v2)!r}, t, o)\n"
    )
    log = tmp_path / "flash.log"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                            stderr=open(log, "wb"), start_new_session=True)
    incoming = Path(device_prefix) / "releases" / ".incoming-v2"
    # kill while rsync copies (the incoming folder appears), or once the device is installing (pip runs)
    marker = (lambda: incoming.exists()) if when == "rsync" else (lambda: "installing" in log.read_text())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not marker():
        time.sleep(0.02)
    assert proc.poll() is None, f"flash finished before it could be interrupted: {log.read_text()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # give the device side time to notice and clean up
    assert os.readlink(Path(device_prefix) / "current") == "releases/v1"
    after = supervisor(device_prefix)
    assert (after["pid"], after["child_pid"], after["restarts"]) == (before["pid"], before["child_pid"], 0)
    assert not (Path(device_prefix) / "releases" / "v2").exists()
    if when == "install":
        assert not incoming.exists(), "the device did not clean up the aborted install"
    # and the next flash of the same bundle goes through
    assert flash(v2, target, install_options, echo=None).status == "ok"


def test_wrong_host_key_is_refused(sshd, device_prefix, bundle_for, install_options, tmp_path):
    wrong = tmp_path / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    with pytest.raises(DeployError, match="host key refused"):
        flash(bundle_for("v1"), target_for(sshd, device_prefix, wrong), install_options, echo=None)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(DeployError, match="host key refused"):
        flash(bundle_for("v1b"), target_for(sshd, device_prefix, empty), install_options, echo=None)
    assert not Path(device_prefix).exists()


@pytest.mark.parametrize("host", ["-oProxyCommand=touch /tmp/x", "pi@host;rm -rf /", "pi@ho st", ""])
def test_hostile_host_strings_are_rejected(host):
    with pytest.raises(DeployError, match="is not user@host"):
        Target(host)


def test_remote_paths_are_quoted():
    t = Target("pi@cam1.local", prefix="my dir/$(reboot)")
    argv = t.ssh(["python3", t.path("current", "install.py"), "status"])
    assert argv[-2:] == ["pi@cam1.local", "python3 'my dir/$(reboot)/current/install.py' status"]
    assert "StrictHostKeyChecking=yes" in argv


def test_remote_bench_fetches_the_report(sshd, device_prefix, bundle_for, install_options, tmp_path):
    from deploy.remote_bench import remote_bench

    target = target_for(sshd, device_prefix)
    assert flash(bundle_for("b1"), target, install_options, echo=None).status == "ok"
    local = remote_bench(target, ["--", "--runs", "3", "--threads", "1"], tmp_path / "reports")
    report = json.loads((local / "bench.json").read_text())
    # the device benched its installed model against the profile the bundle carried
    assert report["board"] == "x86-64" and report["board_note"] == "profile from the installed release"
    assert [m["name"] for m in report["models"]] == ["coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"]
    assert report["models"][0]["sweep"][0]["runs"] == 3
    assert (local / "bench.png").stat().st_size > 1000 and "| threads |" in (local / "bench.md").read_text()
    with pytest.raises(DeployError, match="edge bench failed"):
        remote_bench(target, ["--runs", "0"], tmp_path / "reports")
