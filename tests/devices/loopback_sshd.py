"""A real OpenSSH server on 127.0.0.1 for deployment tests: own host key, own authorised key, own port.

Run as root (CI), it logs in a dedicated non-root user (created with useradd); otherwise the current user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEVICE_USER = "edgetest"


def ensure_tools() -> str | None:
    """None when sshd, ssh, rsync and Debian's venv are present; else the reason to skip, naming the make target
    that installs them (fixtures never run apt-get)."""
    missing = [t for t in ("sshd", "ssh", "rsync", "ssh-keygen") if not _which(t)] + _venv_missing()
    if missing:
        return (f"needs {', '.join(missing)}: `make system-deps` installs them as root "
                "(apt-get install openssh-server openssh-client rsync python3-venv)")
    if not Path("/usr/bin/python3").exists():
        return "needs /usr/bin/python3 on the loopback 'device' (`make system-deps`: python3-venv)"
    return None


def _venv_missing() -> list[str]:
    """The device side builds its venv with Debian's /usr/bin/python3, which needs python3-venv (ensurepip)."""
    ok = Path("/usr/bin/python3").exists() and subprocess.run(
        ["/usr/bin/python3", "-c", "import ensurepip, venv"], capture_output=True).returncode == 0
    return [] if ok else ["python3-venv"]


def _which(tool: str) -> str | None:
    return shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}") if os.path.exists(p)), None)


def device_account() -> pwd.struct_passwd:
    """The login the fake device uses: a dedicated non-root user when we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        pwd.getpwnam(DEVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", DEVICE_USER], check=True)
    # '*' = no password but not locked: with UsePAM no, sshd refuses key logins to locked ('!') accounts.
    subprocess.run(["usermod", "-p", "*", DEVICE_USER], check=True)
    return pwd.getpwnam(DEVICE_USER)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SshServer:
    port: int
    user: str
    home: Path
    known_hosts: Path  # the client's known_hosts holding this server's key
    key: Path  # the client's private key
    host_pub: str
    proc: subprocess.Popen
    folder: Path

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def client_key(folder: Path) -> Path:
    key = folder / "client_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgevision-test", "-f", str(key)],
                       check=True)
    return key


def start_sshd(key: Path) -> SshServer:
    """One sshd on a free loopback port; its files live in a world-readable temp folder (sshd reads the
    authorised keys as the logged-in user)."""
    account = device_account()
    folder = Path(tempfile.mkdtemp(prefix="edgevision-sshd-"))
    folder.chmod(0o755)
    host_key = folder / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    authorized = folder / "authorized_keys"
    authorized.write_text(Path(f"{key}.pub").read_text())
    authorized.chmod(0o644)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {folder / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized}\nStrictModes no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\n"
        f"AllowUsers {account.pw_name}\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\nMaxStartups 50\nMaxSessions 50\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    proc = subprocess.Popen([_which("sshd"), "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(folder / "sshd.log", "wb"))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {(folder / 'sshd.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    host_pub = (folder / "host_ed25519.pub").read_text().split()
    known = folder / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    return SshServer(port, account.pw_name, Path(account.pw_dir), known, key, " ".join(host_pub[:2]), proc, folder)


def as_device_user(path: Path) -> None:
    """Give a folder made by root to the device user, so the device can write there."""
    account = device_account()
    if os.geteuid() == 0:
        for root, dirs, files in os.walk(path):
            os.chown(root, account.pw_uid, account.pw_gid)
            for name in files:
                os.chown(os.path.join(root, name), account.pw_uid, account.pw_gid)
