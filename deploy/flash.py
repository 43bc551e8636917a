"""``python -m deploy flash`` and ``rollback``: copy a bundle to a device and make it the running release.

Steps: verify the bundle here; ``mkdir`` the releases folder; rsync the bundle into
``releases/.incoming-<version>`` (a name the device never runs); run the bundle's ``install.py`` there over
ssh with its stdin held open by us. ``install.py`` verifies the manifest, builds the venv, checks the models,
and only then switches ``current`` and restarts the service; if we die or the link drops before that, it
stops and removes the incoming folder, so the running release is never touched by a half-done flash.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from deploy.errors import DeployError
from deploy.remote_install import RESULT_TAG, InstallError, verify_manifest
from deploy.ssh import Target, describe_ssh_failure, run_remote


@dataclass
class InstallOptions:
    venv_python: str | None = None  # interpreter on the device that creates the venv
    site_packages: list[str] = field(default_factory=list)  # pre-installed runtime the venv should see
    no_deps: bool = False
    service_mode: str | None = None  # force supervisor / systemd-user / systemd-system
    health_timeout: float = 60.0
    settle: float = 2.0

    def argv(self) -> list[str]:
        out = ["--health-timeout", str(self.health_timeout), "--settle", str(self.settle)]
        if self.venv_python:
            out += ["--venv-python", self.venv_python]
        for site in self.site_packages:
            out += ["--site-packages", site]
        if self.no_deps:
            out.append("--no-deps")
        if self.service_mode:
            out += ["--service-mode", self.service_mode]
        return out


@dataclass
class DeviceResult:
    host: str
    status: str  # ok | failed
    version: str | None = None
    previous: str | None = None
    reason: str = ""
    health: str = ""
    detail: dict = field(default_factory=dict)


def _parse_result(host: str, stdout: str, stderr: str, returncode: int) -> DeviceResult:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            data = json.loads(line[len(RESULT_TAG):])
            return DeviceResult(host, data.pop("status"), data.pop("version", None), data.pop("previous", None),
                                data.pop("reason", ""), data.pop("health", ""), data)
    tail = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return DeviceResult(host, "failed", reason=f"no result from the device (exit {returncode}): "
                        f"{tail[-1] if tail else 'no output'}")


def _stream(pipe, sink: list[str], echo) -> None:
    for raw in iter(pipe.readline, b""):
        line = raw.decode("utf-8", "replace")
        sink.append(line)
        if echo:
            echo.write(line)
            echo.flush()


def _install(target: Target, remote_argv: list[str], echo, timeout: float) -> DeviceResult:
    """Run install.py with our stdin held open: if this process dies, the device sees EOF and aborts."""
    proc = subprocess.Popen(target.ssh(remote_argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out: list[str] = []
    err: list[str] = []
    threads = [threading.Thread(target=_stream, args=(proc.stdout, out, None), daemon=True),
               threading.Thread(target=_stream, args=(proc.stderr, err, echo), daemon=True)]
    for t in threads:
        t.start()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise DeployError(f"{target.host}: install did not finish in {timeout:.0f} s; aborted before switching") from None
    finally:
        if proc.stdin:
            proc.stdin.close()
    for t in threads:
        t.join()
    if proc.returncode == 255:
        raise DeployError(describe_ssh_failure(target, "".join(err), proc.returncode))
    return _parse_result(target.host, "".join(out), "".join(err), proc.returncode)


def flash(bundle: Path, target: Target, options: InstallOptions | None = None, echo=sys.stderr,
          timeout: float = 3600) -> DeviceResult:
    options = options or InstallOptions()
    try:
        manifest = verify_manifest(Path(bundle))
    except InstallError as exc:
        raise DeployError(f"bundle {bundle}: {exc}") from None
    version = manifest["version"]
    staging = f".incoming-{version}"
    proc = run_remote(target, ["mkdir", "-p", target.path("releases", staging)])
    if proc.returncode != 0:
        raise DeployError(f"{target.host}: cannot create {target.path('releases')}: {proc.stderr.strip()}")
    rsync = subprocess.run(target.rsync(Path(bundle), target.path("releases", staging)),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if rsync.returncode != 0:
        raise DeployError(describe_ssh_failure(target, rsync.stderr, rsync.returncode).replace("ssh failed", "rsync failed"))
    remote = [target.python, target.path("releases", staging, "install.py"), "install", "--prefix", target.prefix,
              "--staging", staging, "--watch-stdin", *options.argv()]
    return _install(target, remote, echo, timeout)


def _on_device(target: Target, command: str, extra: list[str] | None = None, timeout: float = 300) -> DeviceResult:
    remote = [target.python, target.path("current", "install.py"), command, "--prefix", target.prefix, *(extra or [])]
    proc = run_remote(target, remote, timeout)
    return _parse_result(target.host, proc.stdout, proc.stderr, proc.returncode)


def rollback(target: Target, health_timeout: float = 60.0, settle: float = 2.0) -> DeviceResult:
    return _on_device(target, "rollback", ["--health-timeout", str(health_timeout), "--settle", str(settle)])


def status(target: Target) -> DeviceResult:
    return _on_device(target, "status")


def stop(target: Target) -> DeviceResult:
    return _on_device(target, "stop")
