"""A board in a box: an arm64 Debian root run through qemu-user, with its own OpenSSH server on loopback.

    python -m deploy.sim start [--suite bookworm|trixie]   build once (cached), start sshd, print `make flash`
    python -m deploy.sim stop  [--suite ...]               stop everything started in the root, unmount
    python -m deploy.sim status [--suite ...]

The root is made once with ``debootstrap --arch=arm64 --variant=minbase`` and kept in the cache folder
(``$EDGEVISION_SIM_CACHE``, default ``/var/cache/edgevision-sim``). Every arm64 program in it runs through
``qemu-aarch64-static``, registered with binfmt_misc (with the ``F`` flag: the kernel keeps the interpreter
open, so it works inside the chroot, and ``C``: setuid programs such as ``sudo`` get their credentials).
The board looks like a fresh Raspberry Pi OS Lite: a ``pi`` user with passwordless sudo, OpenSSH, Python 3,
apt. Build time only (never at flash time) the profile's Debian packages are downloaded into the root's apt
cache and the runtime's aarch64 wheels into a wheelhouse the root's ``/etc/pip.conf`` points at, so a flash
installs offline. Needs root, Linux, debootstrap and qemu-user-static; :func:`unavailable_reason` says why not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import unquote

from deploy.errors import DeployError

SUITES = {"bookworm": "3.11", "trixie": "3.13"}  # Debian suite -> its Python (= Raspberry Pi OS of that name)
GLIBC = {"bookworm": 36, "trixie": 41}  # glibc 2.x of each suite: the newest manylinux wheels it runs
MIRROR = os.environ.get("EDGEVISION_SIM_MIRROR", "http://deb.debian.org/debian")
# In the root from the start: what a Raspberry Pi OS Lite image already has and a flash relies on.
# rsync: a flash copies the release with it before its apt step could install it (trixie's minbase has none).
BASE_PACKAGES = ("openssh-server", "python3", "sudo", "procps", "ca-certificates", "rsync")
# Downloaded (not installed) at build time, so that a flash's `apt-get install` of them works offline.
PREFETCH_PACKAGES = ("python3-venv", "python3-numpy", "python3-opencv", "rsync")
# aarch64 wheels for the device extra (numpy and OpenCV come from Debian): the root's pip wheelhouse.
WHEELHOUSE_REQUIREMENTS = ("ai-edge-litert==2.3.0",)
WHEELHOUSE = "/var/lib/edgevision-sim/wheelhouse"
MARKER = "/etc/edgevision-sim"  # tells `edge bench` it runs emulated
QEMU_MAGIC = "7f454c460201010000000000000000000200b700"
QEMU_MASK = "ffffffffffffff00fffffffffffffffffeffffff"
USER = "pi"
RECIPE_VERSION = 1


def cache_dir() -> Path:
    env = os.environ.get("EDGEVISION_SIM_CACHE")
    if env:
        return Path(env)
    return Path("/var/cache/edgevision-sim") if os.geteuid() == 0 else Path.home() / ".cache" / "edgevision-sim"


def _recipe(suite: str) -> dict:
    return {"version": RECIPE_VERSION, "suite": suite, "mirror": MIRROR, "base": BASE_PACKAGES,
            "prefetch": PREFETCH_PACKAGES, "wheels": WHEELHOUSE_REQUIREMENTS}


def recipe_hash(suite: str) -> str:
    return hashlib.sha256(json.dumps(_recipe(suite), sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class SimBoard:
    suite: str
    root: Path
    port: int
    pid: int
    key: Path  # the client's private key for pi
    known_hosts: Path  # holds this board's host key for [127.0.0.1]:port
    mounts: list

    @property
    def host(self) -> str:
        return f"{USER}@127.0.0.1"

    @property
    def home(self) -> Path:
        return self.root / "home" / USER

    def flash_line(self, device: str = "rpi5", model: str = "runs/NAME/export") -> str:
        return (f"make flash DEVICE={device} HOST={self.host} PORT={self.port} KEY={self.key} "
                f"KNOWN_HOSTS={self.known_hosts} MODEL={model}")


def _which(tool: str) -> str | None:
    return shutil.which(tool) or next((p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.path.exists(p)), None)


def unavailable_reason() -> str | None:
    """None when a board can be simulated here, else why not (tests skip with this line)."""
    if sys.platform != "linux":
        return f"the simulated board needs Linux (binfmt_misc), this is {sys.platform}"
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"the simulated board is built on x86-64 hosts, this is {platform.machine()}"
    if os.geteuid() != 0:
        return "the simulated board needs root (debootstrap, chroot, mount, binfmt_misc); run `make device-sim` as root"
    missing = [t for t in ("debootstrap", "qemu-aarch64-static", "ssh", "ssh-keygen", "rsync") if not _which(t)]
    if missing:
        return (f"the simulated board needs {', '.join(missing)}: `make system-deps` (apt-get install debootstrap "
                "qemu-user-static binfmt-support openssh-client rsync)")
    try:
        ensure_binfmt()
    except DeployError as exc:
        return str(exc)
    return None


def ensure_binfmt() -> None:
    """Make sure the kernel runs aarch64 ELF files with qemu-aarch64-static (flags F and C)."""
    folder = Path("/proc/sys/fs/binfmt_misc")
    if not (folder / "register").exists():
        proc = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(folder)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise DeployError(f"binfmt_misc is not available ({proc.stderr.strip()}); the kernel needs CONFIG_BINFMT_MISC")
    entry = folder / "qemu-aarch64"
    if entry.exists():
        text = entry.read_text()
        flags = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("flags:")), "")
        if text.startswith("enabled") and "F" in flags and "C" in flags:
            return
        entry.write_text("-1")  # registered without F or C (sudo would not work in the root): register again
    qemu = _which("qemu-aarch64-static")
    if not qemu:
        raise DeployError("qemu-aarch64-static is missing: apt-get install qemu-user-static")
    line = f":qemu-aarch64:M::\\x{QEMU_MAGIC[0:2]}" + "".join(
        f"\\x{QEMU_MAGIC[i:i + 2]}" for i in range(2, len(QEMU_MAGIC), 2))
    line += ":" + "".join(f"\\x{QEMU_MASK[i:i + 2]}" for i in range(0, len(QEMU_MASK), 2))
    line += f":{qemu}:FC"
    try:
        (folder / "register").write_text(line)
    except OSError as exc:
        raise DeployError(f"cannot register qemu-aarch64 with binfmt_misc: {exc}") from None


_UPSTREAM = re.compile(r"\d+(\.\d+)*")


def deb_upstream_version(name: str) -> str:
    """The upstream version in a Debian package version or .deb file name, as pip would pin it.

    ``python3-numpy_1%3a1.24.2-1+deb12u1_arm64.deb`` -> ``1.24.2`` (bookworm), ``python3-numpy_1%3a2.2.4+ds-1_arm64.deb``
    or ``1:2.2.4+ds-1`` -> ``2.2.4`` (trixie): the epoch (``N:``, ``N%3a`` in file names), the Debian revision
    (after the last ``-``) and repacking suffixes (``+ds``, ``+dfsg``, ``~rc1`` ...) are dropped.
    """
    text = str(name).rsplit("/", 1)[-1]
    version = text
    if text.endswith(".deb"):
        parts = text[:-len(".deb")].split("_")
        if len(parts) != 3 or not parts[1]:
            raise DeployError(f"{text}: not a Debian package file name (expected NAME_VERSION_ARCH.deb)")
        version = parts[1]
    version = unquote(version)  # 1%3a2.2.4 -> 1:2.2.4
    epoch, colon, rest = version.partition(":")
    if colon:
        if not epoch.isdigit():
            raise DeployError(f"{text}: the version's epoch {epoch!r} is not a number")
        version = rest
    if "-" in version:  # native packages have no Debian revision
        version = version.rsplit("-", 1)[0]
    match = _UPSTREAM.match(version)
    if not match or version[match.end():][:1] not in ("", "+", "~"):
        raise DeployError(f"{text}: no upstream version (digits and dots) in {version!r}")
    return match.group(0)


# ---------------------------------------------------------------- build


def _log(message: str) -> None:
    print(f"[sim] {message}", file=sys.stderr, flush=True)


def _run(argv: list, what: str, timeout: float = 3600, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, **kw)
    if proc.returncode != 0:
        tail = [ln for ln in (proc.stderr + proc.stdout).strip().splitlines() if ln.strip()][-3:]
        raise DeployError(f"{what} failed (exit {proc.returncode}): {' / '.join(tail) or 'no output'}")
    return proc


def _chroot(root: Path, script: str, what: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8",
           "HOME": "/root"}
    return _run(["chroot", str(root), "/bin/sh", "-ec", script], what, timeout, env=env)


def root_path(suite: str) -> Path:
    return cache_dir() / f"{suite}-arm64"


def keys_dir() -> Path:
    return cache_dir() / "keys"


def built(suite: str) -> bool:
    stamp = root_path(suite) / MARKER.lstrip("/")
    try:
        return json.loads(stamp.read_text()).get("recipe") == recipe_hash(suite)
    except (OSError, ValueError):
        return False


def build(suite: str = "bookworm") -> Path:
    """Make the arm64 root once; later calls return the cached one at once."""
    if suite not in SUITES:
        raise DeployError(f"--suite {suite!r}: expected one of {', '.join(SUITES)}")
    reason = unavailable_reason()
    if reason:
        raise DeployError(reason)
    root = root_path(suite)
    if built(suite):
        return root
    if (root / "proc" / "self").exists():
        raise DeployError(f"{root} is mounted (a board is running on an old recipe); `make device-sim-stop` first")
    started = time.monotonic()
    tmp = root.with_name(root.name + ".tmp")
    debs = cache_dir() / "debs" / suite
    debs.mkdir(parents=True, exist_ok=True)
    if tmp.exists() and not (tmp / "etc" / ".debootstrap-done").exists():
        _unmount_all(tmp)
        shutil.rmtree(tmp)
    if not tmp.exists():
        _log(f"debootstrap --arch=arm64 {suite} into {tmp} (first build; several minutes under qemu)")
        _run([_which("debootstrap"), "--arch=arm64", "--variant=minbase", f"--cache-dir={debs}",
              f"--include={','.join(BASE_PACKAGES)}", suite, str(tmp), MIRROR], "debootstrap", 5400)
        (tmp / "etc" / ".debootstrap-done").write_text("")
    _configure(tmp, suite)
    (tmp / "etc" / ".debootstrap-done").unlink(missing_ok=True)
    seconds = time.monotonic() - started
    (tmp / MARKER.lstrip("/")).write_text(json.dumps(
        {"recipe": recipe_hash(suite), "suite": suite, "python": SUITES[suite], "build_seconds": round(seconds),
         "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1) + "\n")
    if root.exists():
        _unmount_all(root)
        shutil.rmtree(root)
    tmp.rename(root)
    _log(f"built {root} in {seconds:.0f} s")
    return root


def _configure(root: Path, suite: str) -> None:
    """The pi user, sudo, host keys, the prefetched .debs and the wheelhouse."""
    keys = keys_dir()
    keys.mkdir(parents=True, exist_ok=True)
    client = keys / "id_ed25519"
    if not client.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgevision-sim", "-f", str(client)], "ssh-keygen")
    _chroot(root, f"id {USER} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {USER}\n"
                  f"usermod -p '*' {USER}\n"
                  f"echo '{USER} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/010_pi-nopasswd\n"
                  "chmod 440 /etc/sudoers.d/010_pi-nopasswd\n"
                  "rm -f /etc/ssh/ssh_host_*\n"
                  # as Debian's container images do: no fsync per unpacked file (slow under emulation)
                  "echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/edgevision-sim-unsafe-io\n", "creating the pi user")
    # Host keys made here (host ssh-keygen, fast) rather than under emulation; one key type is enough.
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"edgevision-sim-{suite}",
          "-f", str(root / "etc/ssh/ssh_host_ed25519_key")], "host key")
    ssh_dir = root / "home" / USER / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(Path(f"{client}.pub").read_text())
    (root / "etc/ssh/sshd_config.d").mkdir(exist_ok=True)
    (root / "etc/ssh/sshd_config.d/edgevision-sim.conf").write_text(
        "ListenAddress 127.0.0.1\nHostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin no\nUseDNS no\nMaxStartups 50\nMaxSessions 50\n")
    _chroot(root, f"chown -R {USER}:{USER} /home/{USER}/.ssh && chmod 600 /home/{USER}/.ssh/authorized_keys",
            "authorized_keys")
    _log("downloading the profile's Debian packages into the root's apt cache (installed by a flash)")
    _chroot(root, "apt-get update -qq\napt-get install -y -qq --download-only --no-install-recommends "
            + " ".join(PREFETCH_PACKAGES), "apt-get --download-only", 3600)
    _wheelhouse(root, suite)


def _wheelhouse(root: Path, suite: str) -> None:
    """aarch64 wheels of the runtime and its dependencies, resolved against the suite's numpy."""
    _log("downloading the runtime's aarch64 wheels into the root's wheelhouse")
    debs = sorted((root / "var/cache/apt/archives").glob("python3-numpy_*.deb"))
    if not debs:
        raise DeployError(f"no python3-numpy .deb in {root}/var/cache/apt/archives after the download")
    numpy_version = deb_upstream_version(debs[-1].name)  # the wheels must work with Debian's numpy
    constraints = cache_dir() / f"{suite}.constraints.txt"
    constraints.write_text(f"numpy=={numpy_version}\n")
    house = root / WHEELHOUSE.lstrip("/")
    house.mkdir(parents=True, exist_ok=True)
    py = SUITES[suite].replace(".", "")
    # pip does not widen --platform to older manylinux tags by itself: name every glibc up to the suite's.
    platforms = [a for minor in range(17, GLIBC[suite] + 1) for a in ("--platform", f"manylinux_2_{minor}_aarch64")]
    _run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
          "--platform", "manylinux2014_aarch64", *platforms,
          "--python-version", SUITES[suite], "--implementation", "cp", "--abi", f"cp{py}", "--abi", "abi3",
          "--abi", "none", "-c", str(constraints), "-d", str(house), *WHEELHOUSE_REQUIREMENTS],
         "pip download (wheelhouse)", 1800)
    for provided in list(house.glob("numpy-*.whl")) + list(house.glob("opencv*.whl")):
        provided.unlink()  # the distribution provides these (python3-numpy, python3-opencv)
    (root / "etc/pip.conf").write_text(f"[global]\nno-index = true\nfind-links = {WHEELHOUSE}\n")


# ---------------------------------------------------------------- start / stop


def _state_file(suite: str) -> Path:
    return cache_dir() / f"{suite}.running.json"


def _mounted(path: Path) -> bool:
    target = str(path.resolve())
    with open("/proc/self/mounts") as fh:
        return any(line.split()[1] == target for line in fh)


def _mount_all(root: Path) -> list:
    """/proc, a private /dev (null, zero, random, urandom, tty, pts, shm) and /run; no /sys (see below)."""
    done = []

    def mount(argv, where):
        _run(["mount", *argv, str(where)], f"mount {where}")
        done.append(str(where))

    if not _mounted(root / "proc"):
        mount(["-t", "proc", "proc"], root / "proc")
    # No /sys: XNNPACK's cpuinfo, reading the x86 host's CPU topology there from aarch64 code, crashes under
    # qemu; without it cpuinfo prints "failed to parse ... processors" once and runs on the cores it counts.
    dev = root / "dev"
    if not _mounted(dev):
        mount(["-t", "tmpfs", "-o", "mode=755,size=16m", "simdev"], dev)
        for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                                   ("urandom", 1, 9), ("tty", 5, 0)):
            os.mknod(dev / name, 0o666 | 0o020000, os.makedev(major, minor))
            os.chmod(dev / name, 0o666)
        (dev / "pts").mkdir()
        (dev / "shm").mkdir()
        os.symlink("pts/ptmx", dev / "ptmx")
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                             ("stderr", "/proc/self/fd/2")):
            os.symlink(target, dev / name)
        mount(["-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620,gid=5", "simpts"], dev / "pts")
        mount(["-t", "tmpfs", "-o", "mode=1777,size=256m", "simshm"], dev / "shm")
    if not _mounted(root / "run"):
        mount(["-t", "tmpfs", "-o", "mode=755,size=64m", "simrun"], root / "run")
        (root / "run/sshd").mkdir(mode=0o755)
        (root / "run/lock").mkdir(mode=0o1777)
    return done


def _unmount_all(root: Path) -> None:
    """Unmount everything below root, deepest first (lazily if busy)."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts") as fh:
        points = [line.split()[1] for line in fh if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)


def _processes_in(root: Path) -> list[int]:
    """Every process whose root directory is the simulated board's."""
    target = str(root.resolve())
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "root") == target:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ssh_banner(port: int, timeout: float) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def running(suite: str = "bookworm") -> SimBoard | None:
    try:
        data = json.loads(_state_file(suite).read_text())
        board = SimBoard(**{**data, "root": Path(data["root"]), "key": Path(data["key"]),
                            "known_hosts": Path(data["known_hosts"])})
    except (OSError, ValueError, TypeError):
        return None
    if Path(f"/proc/{board.pid}").exists() and _ssh_banner(board.port, 30):
        return board
    return None


def start(suite: str = "bookworm") -> SimBoard:
    """Build (or reuse) the root, mount it, start its own sshd on 127.0.0.1:<free port>; reuse a running one."""
    board = running(suite)
    if board:
        return board
    root = build(suite)
    stop(suite)  # leftovers of a board that died
    mounts = _mount_all(root)
    # The chroot shares this machine's hostname; sudo wants it resolvable.
    (root / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{socket.gethostname()}\n"
                                    "::1\tlocalhost ip6-localhost ip6-loopback\n")
    port = free_port()
    log = open(cache_dir() / f"{suite}.sshd.log", "wb")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.Popen(["chroot", str(root), "/usr/sbin/sshd", "-D", "-e", "-p", str(port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    log.close()
    deadline = time.monotonic() + 120  # sshd starts in a second natively, some under emulation
    while not _ssh_banner(port, 5):
        if proc.poll() is not None or time.monotonic() > deadline:
            text = (cache_dir() / f"{suite}.sshd.log").read_text(errors="replace").strip()
            stop(suite)
            raise DeployError(f"the simulated board's sshd did not come up on port {port}: {text[-400:] or 'no output'}")
        time.sleep(0.3)
    pub = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    known = cache_dir() / f"{suite}.known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
    board = SimBoard(suite, root, port, proc.pid, keys_dir() / "id_ed25519", known, mounts)
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(board).items()}
    _state_file(suite).write_text(json.dumps(data, indent=1) + "\n")
    return board


def stop(suite: str = "bookworm") -> bool:
    """Stop every process running in the root (sshd, sessions, services), unmount it. True if something ran."""
    root = root_path(suite)
    _state_file(suite).unlink(missing_ok=True)
    if not root.exists():
        return False
    pids = _processes_in(root)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _processes_in(root):
            time.sleep(0.2)
        pids = _processes_in(root)
        if not pids:
            break
    had_mounts = any(_mounted(root / p) for p in ("proc", "sys", "dev", "run"))
    _unmount_all(root)
    return bool(pids) or had_mounts


def size_mb(path: Path) -> float:
    """Disk use of a folder in MB (du -s, so hard links and sparse files count as on the board)."""
    out = _run(["du", "-s", "-B1", str(path)], f"du {path}").stdout.split()[0]
    return int(out) / 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.sim", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("build", "start", "stop", "status"))
    parser.add_argument("--suite", default=os.environ.get("SUITE", "bookworm"), choices=sorted(SUITES))
    parser.add_argument("--device", default="rpi5", help="profile named in the printed flash line")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build(args.suite))
        elif args.command == "start":
            board = start(args.suite)
            print(f"simulated {args.suite} arm64 board (Python {SUITES[args.suite]}, emulated by qemu-user) "
                  f"at {board.host} port {board.port}; root {board.root}")
            print(board.flash_line(args.device))
            print("stop it with: make device-sim-stop" + (f" SUITE={args.suite}" if args.suite != "bookworm" else ""))
        elif args.command == "stop":
            print("stopped" if stop(args.suite) else "nothing was running")
        else:
            board = running(args.suite)
            print(f"running at {board.host} port {board.port}" if board else
                  f"not running (built: {built(args.suite)})")
    except DeployError as exc:
        print(f"device-sim: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
