"""``edge health``: is the installed release able to run, and is its service up?

    python -m edge health                      # the release at ~/edgevision/current and its service
    python -m edge health --release DIR --no-service   # a release before it is switched in (used by flash)

Checks, in order: the release folder has a manifest, every model in its pipeline config loads in the
interpreter and turns one grey frame into finite outputs, and (unless --no-service) the service runs this
release (systemd unit active, or the fallback supervisor and its child alive) for at least --min-uptime
seconds. Prints one line, ``healthy: ...`` (exit 0) or ``unhealthy: <reason>`` (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from .cli import Command
from .errors import EdgeError

DEFAULT_PREFIX = "~/edgevision"
SERVICE_NAME = "edgevision.service"


class Unhealthy(Exception):
    """One reason, one line."""


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"install prefix on the device (default {DEFAULT_PREFIX})")
    p.add_argument("--release", default=None, help="check this release folder instead of PREFIX/current")
    p.add_argument("--no-service", action="store_true", help="check the models only, not the service")
    p.add_argument("--min-uptime", type=float, default=0.0, metavar="S",
                   help="the service must have been running this release for S seconds (default 0)")


def check_models(release: Path) -> list[str]:
    """Load every model of the release's pipeline and run one frame; return a short description of each."""
    from .engine import Engine
    from .pipeline_config import load_config

    config_path = release / "pipeline.toml"
    if not (release / "manifest.json").is_file():
        raise Unhealthy(f"{release}: no manifest.json; not an installed release")
    config = load_config(config_path)
    done = []
    for spec in config.models:
        engine = Engine(spec.path, threads=spec.threads, delegate=spec.delegate)
        w, h = engine.input_size
        frame = np.full((h or 224, w or 224, 3), 114, np.uint8)
        tensor, _ = engine.prepare(frame)
        outputs = engine.infer(tensor)
        for name, value in outputs.items():
            if not np.all(np.isfinite(value)):
                raise Unhealthy(f"{spec.path.name}: output {name!r} holds NaN or infinity on a grey frame")
        done.append(f"{spec.path.name} {engine.last_invoke_ms:.0f} ms")
    return done


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return ") Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


def check_service(prefix: Path, release: Path, min_uptime: float) -> str:
    mode_file = prefix / "service-mode"
    if not mode_file.is_file():
        raise Unhealthy(f"{mode_file} is missing; the release was never started as a service")
    mode = mode_file.read_text().strip()
    if mode in ("systemd-system", "systemd-user"):
        user = ["--user"] if mode == "systemd-user" else []
        state = subprocess.run(["systemctl", *user, "is-active", SERVICE_NAME], capture_output=True, text=True)
        if state.stdout.strip() != "active":
            raise Unhealthy(f"{SERVICE_NAME} is {state.stdout.strip() or 'unknown'} (systemctl {' '.join(user)} status {SERVICE_NAME})")
        show = subprocess.run(["systemctl", *user, "show", "-p", "ActiveEnterTimestampMonotonic", SERVICE_NAME],
                              capture_output=True, text=True).stdout.strip().partition("=")[2]
        since = (time.monotonic() - int(show) / 1e6) if show.isdigit() and int(show) else min_uptime
        if since < min_uptime:
            raise Unhealthy(f"{SERVICE_NAME} has been active only {since:.1f} s (want {min_uptime:g} s)")
        return f"{SERVICE_NAME} active for {since:.0f} s"
    if mode != "supervisor":
        raise Unhealthy(f"{mode_file} says {mode!r}; expected systemd-system, systemd-user or supervisor")
    status_file = prefix / "run" / "supervisor.json"
    try:
        status = json.loads(status_file.read_text())
    except (OSError, ValueError):
        raise Unhealthy(f"the supervisor is not running ({status_file} missing)") from None
    if not _alive(status["pid"]):
        raise Unhealthy(f"the supervisor (pid {status['pid']}) is gone")
    if status.get("state") != "running" or not _alive(status.get("child_pid", -1)):
        raise Unhealthy(f"the service process exited (last exit {status.get('last_exit')}); see {prefix}/run/service.log")
    if os.path.realpath(status["release"]) != os.path.realpath(release):
        raise Unhealthy(f"the supervisor runs {status['release']}, not {os.path.realpath(release)}")
    up = time.time() - status["child_started"]
    if status.get("restarts", 0) and up < min_uptime:
        raise Unhealthy(f"the service restarted {status['restarts']} times; up {up:.1f} s")
    if up < min_uptime:
        raise Unhealthy(f"the service has been up only {up:.1f} s (want {min_uptime:g} s)")
    return f"service pid {status['child_pid']} up {up:.0f} s"


def _main(args: argparse.Namespace) -> int:
    from .schema import Field, check_args

    check_args(args, (Field("min_uptime", float, min=0, max=86400 * 365),))
    prefix = Path(os.path.expanduser(args.prefix)).resolve()
    release = Path(args.release).resolve() if args.release else (prefix / "current")
    try:
        if not release.is_dir():
            raise Unhealthy(f"{release} does not exist; nothing is installed")
        release = release.resolve()
        models = check_models(release)
        service = "service not checked" if args.no_service else check_service(prefix, release, args.min_uptime)
    except Unhealthy as exc:
        print(f"unhealthy: {exc}", flush=True)
        return 1
    except EdgeError as exc:
        print(f"unhealthy: {exc}", flush=True)
        return 1
    print(f"healthy: {release.name}: {', '.join(models)}; {service}", flush=True)
    return 0


COMMAND = Command("check the installed release: models load and run one frame, service is up", _arguments, _main)
