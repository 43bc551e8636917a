"""Device side of a flash: verify, install, switch, restart, check, roll back. Standard library only.

The bundle carries this file as ``install.py``; the host runs it over ssh with an argv list
(``python3 <prefix>/releases/.incoming-V/install.py install --prefix P --staging .incoming-V``).

Layout under the prefix::

    releases/<version>/        one complete release: manifest.json, wheels/, models/, pipeline.toml, venv/
    releases/.incoming-<v>/    a release being copied or installed; never run, removed on failure
    current -> releases/<v>    what the service runs; replaced atomically (symlink + rename)
    previous -> releases/<u>   what `rollback` returns to
    service-mode               systemd-system | systemd-user | supervisor
    run/                       the fallback supervisor's pid and status files, service log

Order of a flash: the new release is verified, installed into its own venv and health-checked (model
loads, one frame runs) while the old one keeps running; only then is ``current`` switched and the service
restarted. If the restarted service is not healthy in time, ``current`` goes back and the old release is
restarted. With ``--watch-stdin`` the install aborts (before the switch) when the host's connection closes,
so a flash killed half-way leaves the running version untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

MANIFEST = "manifest.json"
SERVICE_NAME = "edgevision.service"
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
RESULT_TAG = "EDGEVISION-RESULT "


class InstallError(Exception):
    """A step failed; the message is the one line the host shows."""


# ---------------------------------------------------------------- manifest (shared with the host side)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_manifest(folder: Path, ignore: tuple = ("venv",)) -> dict:
    """Check every file the manifest lists (size and sha256) and that no unlisted file is present."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstallError(f"{path}: missing; not a bundle") from None
    except ValueError as exc:
        raise InstallError(f"{path}: not valid JSON ({exc})") from None
    files = manifest.get("files")
    if manifest.get("format") != "edgevision-bundle" or not isinstance(files, dict):
        raise InstallError(f"{path}: not an edgevision bundle manifest")
    for rel, entry in sorted(files.items()):
        target = folder / rel
        if not target.is_file():
            raise InstallError(f"{folder}: {rel} is listed in the manifest but missing")
        if target.stat().st_size != entry["size"]:
            raise InstallError(f"{folder}: {rel} has {target.stat().st_size} bytes, manifest says {entry['size']}")
        actual = sha256_file(target)
        if actual != entry["sha256"]:
            raise InstallError(f"{folder}: {rel} sha256 {actual[:12]}... does not match manifest {entry['sha256'][:12]}...")
    for item in folder.rglob("*"):
        rel = item.relative_to(folder).as_posix()
        if item.is_file() and rel != MANIFEST and rel not in files and rel.split("/")[0] not in ignore:
            raise InstallError(f"{folder}: {rel} is not in the manifest")
    return manifest


# ---------------------------------------------------------------- small helpers


def log(message: str) -> None:
    print(f"[device] {message}", file=sys.stderr, flush=True)


def result(**fields) -> None:
    print(RESULT_TAG + json.dumps(fields, sort_keys=True), flush=True)


class Connection:
    """With --watch-stdin: the host keeps our stdin open; EOF means it went away, so stop before switching."""

    def __init__(self, watch: bool):
        self.lost = threading.Event()
        if watch:
            threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        try:  # the raw descriptor: a thread blocked in sys.stdin.buffer would hold its lock at exit
            while os.read(0, 1024):
                pass
        except (OSError, ValueError):
            pass
        self.lost.set()

    def check(self, step: str) -> None:
        if self.lost.is_set():
            raise InstallError(f"the host connection closed during {step}; nothing was switched")


def run_step(argv: list, conn: Connection, step: str, timeout: float = 1800) -> str:
    """Run argv, killing it if the host goes away; raise InstallError with its last output line on failure."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out: list = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if conn.lost.is_set() or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            conn.check(step)
            raise InstallError(f"{step}: timed out after {timeout:.0f} s")
        time.sleep(0.1)
    reader.join()
    text = (out[0] if out else b"").decode("utf-8", "replace")
    if proc.returncode != 0:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        raise InstallError(f"{step} failed (exit {proc.returncode}): {lines[-1] if lines else 'no output'}")
    return text


def switch_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically: a new symlink renamed over the old one."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def link_target(link: Path):
    return os.readlink(link) if link.is_symlink() else None


# ---------------------------------------------------------------- services


def service_mode(prefix: Path) -> str:
    if Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        return "systemd-system" if os.geteuid() == 0 else "systemd-user"
    return "supervisor"


def service_argv(prefix: Path, manifest: dict) -> list:
    current = prefix / "current"
    return [a.replace("{current}", str(current)) for a in manifest["service"]["argv"]]


def render_unit(template: str, prefix: Path, argv: list) -> str:
    for arg in argv:
        if any(c.isspace() for c in arg) or "%" in arg or '"' in arg or "\\" in arg:
            raise InstallError(f"service argument {arg!r} contains a space, quote, backslash or %; use a plain path")
    user = os.environ.get("USER") or str(os.geteuid())
    return (template.replace("@PREFIX@", str(prefix)).replace("@USER@", user)
            .replace("@EXEC@", " ".join(argv)))


def _systemctl(mode: str, *args: str) -> list:
    return ["systemctl"] + (["--user"] if mode == "systemd-user" else []) + list(args)


def install_service(prefix: Path, release: Path, manifest: dict, mode: str, conn: Connection) -> None:
    if mode == "supervisor":
        return
    template_rel = manifest["service"]["system" if mode == "systemd-system" else "user"]
    unit = render_unit((release / template_rel).read_text(encoding="utf-8"), prefix, service_argv(prefix, manifest))
    unit_dir = Path("/etc/systemd/system") if mode == "systemd-system" else Path.home() / ".config/systemd/user"
    unit_dir.mkdir(parents=True, exist_ok=True)
    tmp = unit_dir / f".{SERVICE_NAME}.tmp"
    tmp.write_text(unit, encoding="utf-8")
    os.replace(tmp, unit_dir / SERVICE_NAME)
    run_step(_systemctl(mode, "daemon-reload"), conn, "systemctl daemon-reload", 60)
    run_step(_systemctl(mode, "enable", SERVICE_NAME), conn, "systemctl enable", 60)
    if mode == "systemd-user":
        log("user service: for it to start at boot without a login, run once as admin: loginctl enable-linger "
            + (os.environ.get("USER") or "USER"))


def _supervisor_pid(prefix: Path):
    try:
        pid = int((prefix / "run" / "supervisor.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"supervise.py" in cmdline else None


def stop_supervisor(prefix: Path, timeout: float = 15) -> None:
    pid = _supervisor_pid(prefix)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)


def restart_service(prefix: Path, manifest: dict, mode: str, conn: Connection) -> None:
    if mode != "supervisor":
        run_step(_systemctl(mode, "restart", SERVICE_NAME), conn, "systemctl restart", 60)
        return
    stop_supervisor(prefix)
    run_dir = prefix / "run"
    run_dir.mkdir(exist_ok=True)
    logfile = open(run_dir / "service.log", "ab")
    argv = [sys.executable, str(prefix / "current" / "supervise.py"), "--prefix", str(prefix), "--"]
    subprocess.Popen(argv + service_argv(prefix, manifest), stdin=subprocess.DEVNULL, stdout=logfile,
                     stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, cwd=str(prefix / "current"))
    logfile.close()


def wait_healthy(prefix: Path, timeout: float, settle: float) -> str:
    """Run `edge health` from the current release until it passes twice ``settle`` seconds apart."""
    python = str(prefix / "current" / "venv" / "bin" / "python")
    argv = [python, "-m", "edge", "health", "--prefix", str(prefix), "--min-uptime", str(settle)]
    deadline = time.monotonic() + timeout
    last = "no health check ran"
    while time.monotonic() < deadline:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=max(30.0, timeout))
        lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
        last = lines[-1] if lines else f"edge health exited {proc.returncode}"
        if proc.returncode == 0:
            return last
        time.sleep(0.5)
    raise InstallError(f"not healthy after {timeout:.0f} s: {last}")


# ---------------------------------------------------------------- commands


def _dpkg_installed(package: str) -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    return proc.returncode == 0 and proc.stdout.strip().endswith(" installed")


def _apt_has(package: str) -> bool:
    """True when the device's apt sources offer a version of ``package``."""
    proc = subprocess.run(["apt-cache", "policy", package], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.strip().startswith("Candidate:"):
            return line.split(":", 1)[1].strip() not in ("", "(none)")
    return False


def ensure_system_packages(manifest: dict, conn: Connection) -> list:
    """Install the profile's Debian packages the device lacks (apt-get, through ``sudo -n`` when not root).

    A package apt does not offer here fails the flash, unless the profile lists it under
    ``headless_optional`` (e.g. python3-picamera2 on a Debian that is not Raspberry Pi OS): then it is
    reported by name and skipped. Returns the skipped names.
    """
    wanted = list(manifest.get("system_packages") or [])
    optional = set(manifest.get("headless_optional") or [])
    if not wanted:
        return []
    if not shutil.which("dpkg-query"):
        log(f"no dpkg-query (not a Debian-family system): not checking system packages {', '.join(wanted)}")
        return []
    missing = [p for p in wanted if not _dpkg_installed(p)]
    if not missing:
        log(f"system packages present: {', '.join(wanted)}")
        return []
    offered = [p for p in missing if _apt_has(p)]
    skipped = [p for p in missing if p not in offered and p in optional]
    absent = [p for p in missing if p not in offered and p not in optional]
    if absent:
        raise InstallError(f"system package(s) {', '.join(absent)} not installed and not offered by this device's "
                           "apt sources (apt-cache policy shows no candidate); add the source or install them by hand")
    for name in skipped:
        log(f"{name}: not offered by this device's apt sources; skipped (optional for headless use, "
            "so camera input through it will not work)")
    if offered:
        argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *offered]
        if os.geteuid() != 0:
            if not shutil.which("sudo"):
                raise InstallError(f"system package(s) {', '.join(offered)} missing and no sudo to install them; "
                                   f"run as root: {' '.join(argv)}")
            argv = ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive", *argv]
        log(f"installing system packages: {', '.join(offered)}")
        run_step(argv, conn, f"apt-get install {' '.join(offered)}", 1800)
    return skipped


def make_venv(release: Path, manifest: dict, args, conn: Connection) -> None:
    venv = release / "venv"
    base = args.venv_python or sys.executable
    argv = [base, "-m", "venv"]
    if manifest.get("venv_system_site_packages"):
        argv.append("--system-site-packages")
    run_step(argv + [str(venv)], conn, "creating the venv", 300)
    python = str(venv / "bin" / "python")
    if args.site_packages:
        site = run_step([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        conn, "locating site-packages").strip().splitlines()[-1]
        Path(site, "_edgevision_extra_site.pth").write_text("\n".join(args.site_packages) + "\n")
    wheel = str(release / manifest["wheel"])
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q"]
    if manifest.get("numpy_opencv") == "apt" and not args.no_deps:
        # The distribution's OpenCV is built against its numpy: pip must keep that numpy, never put another
        # one in the venv (the runtime's dependencies then resolve to versions that work with it).
        found = run_step([python, "-c", "import numpy; print(numpy.__version__)"], conn,
                         "finding the distribution's numpy (python3-numpy)", 120).strip().splitlines()[-1]
        constraints = venv / "edgevision-constraints.txt"
        constraints.write_text(f"numpy=={found}\n")
        log(f"numpy {found} from the distribution; pip is held to it")
        pip += ["-c", str(constraints)]
    if args.no_deps:
        pip += ["--no-deps", wheel]
    else:
        pip += [f"{wheel}[{manifest['pip_extra']}]"]
    log(f"installing {Path(wheel).name} into {venv}")
    run_step(pip, conn, "pip install", 1800)
    if not args.keep_pip:
        # The service never installs anything: pip and setuptools are ~24 MB of the board's disk.
        run_step([python, "-m", "pip", "uninstall", "-y", "-q", "--disable-pip-version-check", "pip", "setuptools"],
                 conn, "removing pip from the service venv", 300)


def cmd_install(args) -> None:
    prefix = Path(args.prefix).resolve()
    releases = prefix / "releases"
    staging = releases / args.staging
    if not args.staging.startswith(".incoming-") or "/" in args.staging:
        raise InstallError(f"--staging {args.staging!r}: expected .incoming-<version>")
    conn = Connection(args.watch_stdin)
    manifest = verify_manifest(staging)
    version = manifest["version"]
    if not VERSION_RE.match(version):
        raise InstallError(f"manifest version {version!r} is not a safe folder name")
    final = releases / version
    if final.exists():
        raise InstallError(f"{final} already exists; bundle a new version (or `rollback` to switch back)")
    log(f"manifest verified: {len(manifest['files'])} files")
    skipped = [] if args.no_system_packages else ensure_system_packages(manifest, conn)
    make_venv(staging, manifest, args, conn)
    conn.check("install")
    run_step([str(staging / "venv" / "bin" / "python"), "-m", "edge", "health", "--release", str(staging),
              "--no-service"], conn, "health check of the new release", 300)
    old = link_target(prefix / "current")
    mode = args.service_mode or service_mode(prefix)
    conn.check("health check")
    # The point of no return: from here the host going away no longer matters.
    os.rename(staging, final)
    switch_link(prefix / "current", f"releases/{version}")
    if old:
        switch_link(prefix / "previous", old)
    (prefix / "service-mode").write_text(mode + "\n")
    log(f"current -> releases/{version} (was {old}); service mode {mode}")
    try:
        if args.no_service:
            health = "service not started (--no-service)"
        else:
            install_service(prefix, final, manifest, mode, Connection(False))
            restart_service(prefix, manifest, mode, Connection(False))
            health = wait_healthy(prefix, args.health_timeout, args.settle)
    except InstallError as exc:
        _revert(prefix, old, manifest, mode, f"releases/{version}")
        final.rename(releases / f"{version}.failed-{int(time.time())}")
        raise InstallError(f"{exc}; switched back to {old or 'nothing'}") from None
    prune(prefix, args.keep)
    result(status="ok", version=version, previous=old and Path(old).name, mode=mode, health=health,
           skipped_packages=skipped)


def _revert(prefix: Path, old, manifest: dict, mode: str, new: str) -> None:
    if old:
        switch_link(prefix / "current", old)
        prev = link_target(prefix / "previous")
        if prev == old or prev is None:
            (prefix / "previous").unlink(missing_ok=True)
        try:
            restart_service(prefix, manifest, mode, Connection(False))
        except InstallError as exc:
            log(f"restarting the previous release failed too: {exc}")
    else:
        (prefix / "current").unlink(missing_ok=True)
        if mode == "supervisor":
            stop_supervisor(prefix)


def cmd_rollback(args) -> None:
    prefix = Path(args.prefix).resolve()
    current, previous = link_target(prefix / "current"), link_target(prefix / "previous")
    if not previous or not (prefix / previous).is_dir():
        raise InstallError(f"{prefix}: no previous release to roll back to (current is {current})")
    manifest = verify_manifest(prefix / previous)
    mode = (prefix / "service-mode").read_text().strip() if (prefix / "service-mode").exists() else service_mode(prefix)
    switch_link(prefix / "current", previous)
    switch_link(prefix / "previous", current)
    conn = Connection(False)
    try:
        install_service(prefix, prefix / previous, manifest, mode, conn)
        restart_service(prefix, manifest, mode, conn)
        health = wait_healthy(prefix, args.health_timeout, args.settle)
    except InstallError as exc:
        raise InstallError(f"rolled back to {previous}, but it is not healthy: {exc}") from None
    result(status="ok", version=Path(previous).name, previous=Path(current).name, mode=mode, health=health)


def cmd_status(args) -> None:
    prefix = Path(args.prefix).resolve()
    current, previous = link_target(prefix / "current"), link_target(prefix / "previous")
    releases = sorted(p.name for p in (prefix / "releases").glob("*") if p.is_dir()) if (prefix / "releases").is_dir() else []
    result(status="ok", version=current and Path(current).name, previous=previous and Path(previous).name,
           releases=releases, supervisor_pid=_supervisor_pid(prefix))


def cmd_stop(args) -> None:
    prefix = Path(args.prefix).resolve()
    mode = (prefix / "service-mode").read_text().strip() if (prefix / "service-mode").exists() else "supervisor"
    if mode == "supervisor":
        stop_supervisor(prefix)
    else:
        run_step(_systemctl(mode, "stop", SERVICE_NAME), Connection(False), "systemctl stop", 60)
    result(status="ok", stopped=True)


def prune(prefix: Path, keep: int) -> None:
    """Remove old releases beyond ``keep``, never current or previous; clear stale incoming folders."""
    releases = prefix / "releases"
    protected = {Path(t).name for t in (link_target(prefix / "current"), link_target(prefix / "previous")) if t}
    for stale in releases.glob(".incoming-*"):
        shutil.rmtree(stale, ignore_errors=True)
    done = sorted((p for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for old in done[keep:]:
        if old.name not in protected:
            shutil.rmtree(old, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="install.py", description="edgevision device-side installer")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("install", "rollback", "status", "stop"):
        p = sub.add_parser(name)
        p.add_argument("--prefix", required=True)
        p.add_argument("--health-timeout", type=float, default=60.0)
        p.add_argument("--settle", type=float, default=2.0, help="seconds the service must stay up")
    inst = sub.choices["install"]
    inst.add_argument("--staging", required=True)
    inst.add_argument("--venv-python", help="interpreter that creates the venv (default: this one)")
    inst.add_argument("--site-packages", action="append", default=[],
                      help="extra site-packages folder the venv should see (pre-installed runtime)")
    inst.add_argument("--no-deps", action="store_true", help="install the wheel without its dependencies")
    inst.add_argument("--keep-pip", action="store_true", help="leave pip and setuptools in the service venv")
    inst.add_argument("--no-system-packages", action="store_true",
                      help="do not check or install the profile's Debian packages")
    inst.add_argument("--watch-stdin", action="store_true", help="abort before switching if stdin closes")
    inst.add_argument("--no-service", action="store_true", help="install and switch, do not start a service")
    inst.add_argument("--service-mode", choices=("systemd-system", "systemd-user", "supervisor"))
    inst.add_argument("--keep", type=int, default=3, help="releases to keep besides current and previous")
    args = parser.parse_args(argv)
    command = {"install": cmd_install, "rollback": cmd_rollback, "status": cmd_status, "stop": cmd_stop}
    try:
        command[args.command](args)
    except InstallError as exc:
        if args.command == "install":
            staging = Path(args.prefix).resolve() / "releases" / args.staging
            if staging.name.startswith(".incoming-"):
                shutil.rmtree(staging, ignore_errors=True)
        result(status="failed", reason=str(exc))
        print(f"[device] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
