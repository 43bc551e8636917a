"""When a machine cannot have a simulated board, deploy.sim says why (the qemu tests skip with that line)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Imports first (this interpreter's files may lie under /root), then drop to nobody.
SNIPPET = ("import os, sys\n"
           "from deploy import sim\n"
           "os.setgid(65534); os.setuid(65534)\n"
           "print(sim.unavailable_reason())\n"
           "sys.exit(sim.main(['start']))\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="drops from root to nobody to see the non-root answer")
def test_not_root_says_why_and_start_refuses(repo):
    env = dict(os.environ, PYTHONPATH=str(repo), EDGEVISION_SIM_CACHE="/nonexistent/edgevision-sim")
    proc = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True, env=env, cwd="/",
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "needs root" in proc.stdout and "make device-sim" in proc.stdout
    assert proc.stderr.startswith("device-sim: ") and "needs root" in proc.stderr


def test_unknown_suite_is_refused(repo):
    proc = subprocess.run([sys.executable, "-m", "deploy.sim", "start", "--suite", "buster"], capture_output=True,
                          text=True, cwd=repo, timeout=120)
    assert proc.returncode == 2 and "buster" in proc.stderr and "bookworm" in proc.stderr
