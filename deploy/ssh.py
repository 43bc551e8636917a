"""ssh and rsync command lines for one device. argv lists only; the remote command is one shlex-quoted string.

Host keys are checked strictly (``StrictHostKeyChecking=yes``): a device whose key is unknown or changed is
refused. Add a new device's key once with ``ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts`` after checking
its fingerprint, or pass ``--known-hosts FILE``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import DeployError

# user@host, host, user@192.168.1.7, user@[fe80::1]; never starting with '-' (an ssh option).
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]*@)?(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])$")


@dataclass(frozen=True)
class Target:
    host: str  # user@host
    port: int | None = None
    key: Path | None = None
    known_hosts: Path | None = None  # default: ssh's own ~/.ssh/known_hosts
    prefix: str = "edgevision"  # install prefix on the device, relative to the login's home or absolute
    python: str = "python3"  # the device's interpreter for install.py
    connect_timeout: int = 10

    def __post_init__(self):
        if not _HOST_RE.match(self.host or ""):
            raise DeployError(f"host {self.host!r} is not user@host or host (letters, digits, '.', '-', '_')")
        if self.port is not None and not 0 < self.port < 65536:
            raise DeployError(f"port {self.port} is not in 1..65535")
        if self.key is not None and not Path(self.key).is_file():
            raise DeployError(f"ssh key {self.key} does not exist")
        if not self.prefix or self.prefix.startswith("-") or "\n" in self.prefix:
            raise DeployError(f"prefix {self.prefix!r} is not a usable path")

    @property
    def hostname(self) -> str:
        return self.host.rsplit("@", 1)[-1].strip("[]")

    def ssh_options(self) -> list[str]:
        opts = ["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                "-o", f"ConnectTimeout={self.connect_timeout}", "-o", "ServerAliveInterval=5",
                "-o", "ServerAliveCountMax=3"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.key:
            opts += ["-i", str(self.key), "-o", "IdentitiesOnly=yes"]
        if self.port:
            opts += ["-p", str(self.port)]
        return opts

    def ssh(self, remote_argv: list[str]) -> list[str]:
        """ssh argv running ``remote_argv`` on the device; each word quoted for the remote shell."""
        return ["ssh", *self.ssh_options(), "--", self.host, shlex.join(remote_argv)]

    def rsync(self, local_dir: Path, remote_dir: str, delete: bool = True) -> list[str]:
        """rsync argv copying the contents of ``local_dir`` into ``remote_dir`` (relative to the home)."""
        shell = shlex.join(["ssh", *self.ssh_options()])
        argv = ["rsync", "-a", "--protect-args", "-e", shell]
        if delete:
            argv.append("--delete")
        return argv + [f"{local_dir}/", f"{self.host}:{remote_dir}/"]

    def path(self, *parts: str) -> str:
        return "/".join([self.prefix.rstrip("/"), *parts])


def describe_ssh_failure(target: Target, stderr: str, returncode: int) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip() and not ln.startswith("Warning: Permanently")]
    text = " / ".join(lines[-2:]) if lines else f"exit {returncode}"
    if "Host key verification failed" in stderr or "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
        return (f"{target.host}: host key refused ({text}); check the device's fingerprint and add it to "
                f"{target.known_hosts or '~/.ssh/known_hosts'}")
    return f"{target.host}: ssh failed: {text}"


def run_remote(target: Target, remote_argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a short remote command; DeployError naming the host on ssh failure."""
    try:
        proc = subprocess.run(target.ssh(remote_argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeployError(f"{target.host}: `{shlex.join(remote_argv)}` timed out after {timeout:.0f} s") from None
    if proc.returncode == 255:
        raise DeployError(describe_ssh_failure(target, proc.stderr, proc.returncode))
    return proc
