"""A fleet deploy with Ansible over two real sshd instances on loopback, with per-host results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import DEVICE_PYTHON
from deploy.fleet import deploy_fleet, parse_recap, read_inventory

pytestmark = pytest.mark.slow


def inventory(path: Path, rows: list[tuple[str, object, str]]) -> Path:
    lines = ["[edgevision]"]
    for name, server, prefix in rows:
        lines.append(f"{name} ansible_host=127.0.0.1 ansible_port={server.port} ansible_user={server.user} "
                     f"edgevision_device=x86-64 edgevision_prefix={prefix} edgevision_python={DEVICE_PYTHON}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fleet_deploys_two_hosts_in_parallel(sshd, sshd2, device_prefix, device_prefix2, bundle_for,
                                             install_options, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts.read_text() + sshd2.known_hosts.read_text())
    inv = inventory(tmp_path / "fleet.ini", [("cam1", sshd, device_prefix), ("cam2", sshd2, device_prefix2)])
    assert [(h.name, h.device) for h in read_inventory(inv)] == [("cam1", "x86-64"), ("cam2", "x86-64")]
    results = deploy_fleet(inv, {"x86-64": bundle_for("f1")}, install_options, key=sshd.key, known_hosts=known,
                           echo=None)
    assert [(r.host, r.status, r.version) for r in results] == [("cam1", "ok", "f1"), ("cam2", "ok", "f1")], \
        [r.reason for r in results]
    for prefix in (device_prefix, device_prefix2):
        assert os.readlink(Path(prefix) / "current") == "releases/f1"
        assert (Path(prefix) / "run" / "supervisor.json").is_file()


def test_fleet_reports_each_host_on_its_own(sshd, sshd2, device_prefix, device_prefix2, bundle_for,
                                            install_options, tmp_path):
    # cam2's key is not in known_hosts: it is refused, cam1 still deploys
    inv = inventory(tmp_path / "fleet.ini", [("cam1", sshd, device_prefix), ("cam2", sshd2, device_prefix2)])
    results = deploy_fleet(inv, {"x86-64": bundle_for("f2")}, install_options, key=sshd.key,
                           known_hosts=sshd.known_hosts, echo=None)
    by_host = {r.host: r for r in results}
    assert by_host["cam1"].status == "ok"
    assert by_host["cam2"].status == "unreachable" and "requested strict checking" in by_host["cam2"].reason
    assert not Path(device_prefix2).exists()


def test_parse_recap():
    text = ("PLAY RECAP *****\ncam1   : ok=5    changed=2    unreachable=0    failed=0    skipped=0\n"
            "cam2 : ok=0 changed=0 unreachable=1 failed=0\n")
    assert parse_recap(text) == {
        "cam1": {"ok": 5, "changed": 2, "unreachable": 0, "failed": 0, "skipped": 0},
        "cam2": {"ok": 0, "changed": 0, "unreachable": 1, "failed": 0},
    }
