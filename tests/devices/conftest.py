"""Fixtures for deployment tests: a loopback OpenSSH server, the project wheel, bundles, device prefixes."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
import uuid
from pathlib import Path

import pytest

from . import loopback_sshd

SSD = "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"
DEVICE_PYTHON = "/usr/bin/python3"
SYNTHETIC = "synthetic://?width=320&height=240&fps=5"


@pytest.fixture(scope="session")
def ssh_tools():
    reason = loopback_sshd.ensure_tools()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def client_key(ssh_tools, tmp_path_factory) -> Path:
    return loopback_sshd.client_key(tmp_path_factory.mktemp("client"))


@pytest.fixture(scope="session")
def sshd(client_key):
    server = loopback_sshd.start_sshd(client_key)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd2(client_key):
    server = loopback_sshd.start_sshd(client_key)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    from deploy.bundle import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture
def bundle_for(zoo, wheel, tmp_path):
    """bundle_for("v1") -> a bundle of the zoo SSD for the x86-64 profile, fed by a synthetic camera."""
    from deploy.bundle import BundleRequest, make_bundle

    def make(version: str, model: str = SSD, device: str = "x86-64") -> Path:
        return make_bundle(BundleRequest(device, [zoo / "models" / model], source=SYNTHETIC, version=version,
                                         out=tmp_path / "bundles", wheel=wheel))

    return make


@pytest.fixture
def install_options():
    """Fast device installs: the venv sees this checkout's runtime packages; the wheel goes in --no-deps."""
    from deploy.flash import InstallOptions

    return InstallOptions(venv_python=DEVICE_PYTHON, site_packages=[sysconfig.get_paths()["purelib"]],
                          no_deps=True, health_timeout=90, settle=2)


def _stop(server, prefix: str) -> None:
    from deploy.ssh import Target

    target = Target(server.host, server.port, server.key, server.known_hosts, prefix, DEVICE_PYTHON)
    subprocess.run(target.ssh([DEVICE_PYTHON, "-c", STOP_SNIPPET, prefix]), capture_output=True, timeout=60)


# Stops a prefix's supervisor even when no release is current (install.py may not be there).
STOP_SNIPPET = (
    "import os,signal,sys,time\n"
    "p=os.path.join(sys.argv[1],'run','supervisor.pid')\n"
    "try: pid=int(open(p).read())\n"
    "except Exception: sys.exit(0)\n"
    "os.kill(pid,signal.SIGTERM)\n"
    "[time.sleep(0.1) for _ in range(100) if os.path.exists('/proc/%d'%pid)]\n"
)


@pytest.fixture
def device_prefix(sshd):
    """A fresh install prefix in the device user's home; its service is stopped and the folder removed after."""
    prefix = sshd.home / f"ev-{uuid.uuid4().hex[:8]}"
    yield str(prefix)
    _stop(sshd, str(prefix))
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture
def device_prefix2(sshd2):
    prefix = sshd2.home / f"ev-{uuid.uuid4().hex[:8]}"
    yield str(prefix)
    _stop(sshd2, str(prefix))
    shutil.rmtree(prefix, ignore_errors=True)
