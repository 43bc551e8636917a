"""Fallback service manager for devices without systemd: keep one command running. Standard library only.

    python3 supervise.py --prefix P -- CMD ARGS...

Writes ``P/run/supervisor.pid`` (its own pid) and ``P/run/supervisor.json`` (child pid, restarts, the
release it runs, start times), restarts the command when it exits (back-off 1, 2, 4 ... 30 s), and on
SIGTERM stops the command (SIGTERM, then SIGKILL after 10 s) and removes its files. ``install.py`` starts it
detached (its own session, output to ``P/run/service.log``) and stops it through the pid file. It does not
start at boot by itself: add ``@reboot P/current/venv/bin/python P/current/supervise.py ...`` to the user's
crontab, or use systemd where the board has it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="supervise.py")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given after --")
    run = Path(args.prefix) / "run"
    run.mkdir(parents=True, exist_ok=True)
    pid_file, status_file = run / "supervisor.pid", run / "supervisor.json"
    pid_file.write_text(f"{os.getpid()}\n")
    release = os.path.realpath(Path(args.prefix) / "current")
    stopping = False
    child = None

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    restarts, backoff = 0, 1.0
    status = {"pid": os.getpid(), "release": release, "command": command, "started": time.time()}
    try:
        while not stopping:
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
            status.update(child_pid=child.pid, child_started=time.time(), restarts=restarts, state="running")
            write_json(status_file, status)
            while child.poll() is None and not stopping:
                time.sleep(0.2)
            if stopping:
                break
            print(f"supervise: command exited with {child.returncode}; restarting in {backoff:.0f} s",
                  file=sys.stderr, flush=True)
            status.update(state="restarting", last_exit=child.returncode)
            write_json(status_file, status)
            end = time.monotonic() + backoff
            while time.monotonic() < end and not stopping:
                time.sleep(0.2)
            restarts, backoff = restarts + 1, min(backoff * 2, 30.0)
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for path in (pid_file, status_file):
            try:
                path.unlink()
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
