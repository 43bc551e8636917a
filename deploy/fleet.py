"""``python -m deploy fleet``: flash many devices in parallel with Ansible (ansible-core from PyPI).

The inventory is an ordinary Ansible INI file; each host names its board and may set its own prefix::

    [edgevision]
    cam1 ansible_host=cam1.local ansible_user=pi edgevision_device=rpi5
    cam2 ansible_host=10.0.0.7 ansible_port=2222 ansible_user=pi edgevision_device=rpi4 edgevision_prefix=/opt/ev

One bundle is built per board in the inventory (or ``--bundle`` is used for all); a generated playbook copies
it into ``releases/.incoming-<version>`` and runs the bundle's ``install.py``, which does the same verified,
health-checked, switch-at-the-end install as ``deploy flash``. Ansible runs the hosts in parallel
(``--forks``); each host's outcome comes back as one row (ok / failed / unreachable, version, reason).
Host keys are checked strictly, as for flash.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import DeployError
from deploy.flash import DeviceResult, InstallOptions, _parse_result
from deploy.remote_install import verify_manifest

PLAYBOOK = """\
- name: edgevision fleet deploy
  hosts: "{{ fleet_hosts }}"
  gather_facts: true
  gather_subset: ["!all", "!min", "env"]
  vars:
    ev_prefix: "{{ edgevision_prefix | default('edgevision') }}"
    ev_root: "{{ ev_prefix if ev_prefix.startswith('/') else ansible_env.HOME ~ '/' ~ ev_prefix }}"
    ev_bundle: "{{ bundles[edgevision_device] }}"
    ev_incoming: "{{ ev_root }}/releases/.incoming-{{ ev_bundle.version }}"
  tasks:
    - name: check the board has a bundle
      ansible.builtin.assert:
        that: edgevision_device is defined and edgevision_device in bundles
        fail_msg: "host var edgevision_device is missing or has no bundle"
        quiet: true
    - name: incoming folder
      ansible.builtin.file:
        path: "{{ ev_incoming }}"
        state: directory
        mode: "0755"
    - name: copy the bundle
      ansible.builtin.copy:
        src: "{{ ev_bundle.dir }}/"
        dest: "{{ ev_incoming }}/"
        mode: preserve
    - name: install, health-check and switch
      ansible.builtin.command:
        argv: "{{ [edgevision_python | default('python3'), ev_incoming ~ '/install.py', 'install', '--prefix', ev_root, '--staging', '.incoming-' ~ ev_bundle.version] + install_args }}"
      register: ev_install
      changed_when: true
"""


@dataclass
class FleetHost:
    name: str
    device: str | None


def _ansible_tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise DeployError(f"{name} not found; install Ansible with `pip install ansible-core`")
    return found


def _env(known_hosts: Path | None, tree: Path | None = None) -> dict:
    env = dict(os.environ)
    ssh_args = "-o StrictHostKeyChecking=yes -o BatchMode=yes"
    if tree:
        # Connection sharing only within this run: a master left by an earlier run would skip the key check.
        ssh_args += f" -o ControlMaster=auto -o ControlPersist=30s -o ControlPath={tree.parent}/cm-%C"
    if known_hosts:
        ssh_args += f" -o UserKnownHostsFile={known_hosts}"
    env.update(ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_SSH_ARGS=ssh_args, ANSIBLE_RETRY_FILES_ENABLED="False",
               ANSIBLE_PYTHON_INTERPRETER="auto_silent", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               LC_ALL=env.get("LC_ALL") or "C.UTF-8")
    if tree:
        env.update(ANSIBLE_CALLBACKS_ENABLED="tree", ANSIBLE_CALLBACK_TREE_DIR=str(tree))
    return env


def read_inventory(inventory: Path, limit: str = "all") -> list[FleetHost]:
    """Hosts and their boards, as Ansible itself reads the inventory."""
    if not Path(inventory).is_file():
        raise DeployError(f"inventory {inventory} does not exist")
    proc = subprocess.run([_ansible_tool("ansible-inventory"), "-i", str(inventory), "--list", "--limit", limit],
                          capture_output=True, text=True, env=_env(None))
    if proc.returncode != 0:
        raise DeployError(f"inventory {inventory}: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    data = json.loads(proc.stdout)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    names = sorted(set(hostvars) | {h for g in data.values() if isinstance(g, dict) for h in g.get("hosts", [])})
    if not names:
        raise DeployError(f"inventory {inventory}: no hosts")
    return [FleetHost(n, hostvars.get(n, {}).get("edgevision_device")) for n in names]


def deploy_fleet(inventory: Path, bundles: dict[str, Path], options: InstallOptions | None = None,
                 key: Path | None = None, known_hosts: Path | None = None, forks: int = 10,
                 limit: str = "all", echo=sys.stderr) -> list[DeviceResult]:
    """Run the generated playbook; one DeviceResult per host, in inventory order."""
    options = options or InstallOptions()
    hosts = read_inventory(inventory, limit)
    missing = sorted({h.device or "(none)" for h in hosts} - set(bundles))
    if missing:
        raise DeployError(f"inventory {inventory}: no bundle for board(s) {', '.join(missing)}; "
                          f"set edgevision_device on every host and bundle each board")
    info = {}
    for device, folder in bundles.items():
        manifest = verify_manifest(Path(folder))
        info[device] = {"dir": str(Path(folder).resolve()), "version": manifest["version"]}
    with tempfile.TemporaryDirectory(prefix="edgevision-fleet-") as tmp:
        tmp = Path(tmp)
        (tmp / "playbook.yml").write_text(PLAYBOOK)
        (tmp / "vars.json").write_text(json.dumps({"bundles": info, "install_args": options.argv(),
                                                   "fleet_hosts": limit}))
        tree = tmp / "tree"
        argv = [_ansible_tool("ansible-playbook"), "-i", str(inventory), str(tmp / "playbook.yml"),
                "-e", f"@{tmp / 'vars.json'}", "--forks", str(forks)]
        if key:
            argv += ["--private-key", str(key)]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=_env(known_hosts, tree), text=True)
        output = []
        for line in proc.stdout:
            output.append(line)
            if echo:
                echo.write(line)
        proc.wait()
        recap = parse_recap("".join(output))
        return [_host_result(h.name, recap.get(h.name), tree / h.name) for h in hosts]


def parse_recap(text: str) -> dict[str, dict[str, int]]:
    """``host : ok=4 changed=2 unreachable=0 failed=0 ...`` lines of PLAY RECAP -> {host: counts}."""
    out: dict[str, dict[str, int]] = {}
    in_recap = False
    for line in text.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap and ":" in line and "=" in line:
            host, _, rest = line.partition(":")
            out[host.strip()] = {k: int(v) for k, v in (p.split("=") for p in rest.split() if "=" in p)}
    return out


def _host_result(host: str, counts: dict | None, tree_file: Path) -> DeviceResult:
    last = {}
    if tree_file.is_file():
        try:
            last = json.loads(tree_file.read_text())
        except ValueError:
            last = {}
    if counts is None:
        return DeviceResult(host, "failed", reason="not in Ansible's recap (did the play run?)")
    if counts.get("unreachable"):
        return DeviceResult(host, "unreachable", reason=str(last.get("msg", "unreachable")).strip().splitlines()[0])
    if "stdout" in last:
        result = _parse_result(host, last.get("stdout", ""), last.get("stderr", ""), last.get("rc", -1))
        if counts.get("failed") and result.status == "ok":
            result.status = "failed"
        return result
    if counts.get("failed"):
        msg = str(last.get("msg", "failed")).strip().splitlines()
        return DeviceResult(host, "failed", reason=msg[0] if msg else "failed")
    return DeviceResult(host, "failed", reason="no install result recorded")
