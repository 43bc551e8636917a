"""``python -m deploy bench`` / ``make bench``: run ``edge bench`` on a device over ssh, fetch the report.

The device runs its installed release (``PREFIX/current``): its venv, its models (relative --model paths are
taken inside the release) and its board profile (device.toml). The report folder comes back with rsync.
"""

from __future__ import annotations

import datetime as _dt
import subprocess
from pathlib import Path

from deploy.errors import DeployError
from deploy.ssh import Target, describe_ssh_failure, run_remote


def remote_bench(target: Target, bench_args: list[str], out: Path, timeout: float = 3600) -> Path:
    args = list(bench_args[1:] if bench_args[:1] == ["--"] else bench_args)
    if "--out" in args or "--release" in args:
        raise DeployError("give --out for the local folder only; the device's release and report folder are chosen here")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    remote_out = target.path("bench", stamp)
    python = target.path("current", "venv", "bin", "python")
    argv = [python, "-m", "edge", "bench", "--release", target.path("current"), "--out", remote_out, *args]
    proc = run_remote(target, argv, timeout)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).strip().splitlines() if ln.strip() and not ln.startswith("INFO")]
        raise DeployError(f"{target.host}: edge bench failed (exit {proc.returncode}): {lines[-1] if lines else ''}")
    local = Path(out) / stamp
    local.mkdir(parents=True, exist_ok=True)
    rsync = subprocess.run(target.rsync(local, remote_out, delete=False)[:-2] + [f"{target.host}:{remote_out}/", f"{local}/"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if rsync.returncode != 0:
        raise DeployError(describe_ssh_failure(target, rsync.stderr, rsync.returncode).replace("ssh failed", "rsync failed"))
    for name in ("bench.json", "bench.md", "bench.png"):
        if not (local / name).is_file():
            raise DeployError(f"{target.host}: the report has no {name} (fetched into {local})")
    return local
