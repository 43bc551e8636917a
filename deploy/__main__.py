"""``python -m deploy bundle|flash|rollback|status|fleet|bench``; see deploy/flash.mk for the make targets.

Exit status: 0 all good, 1 a device reported a failure (the line says which and why), 2 bad input or a
connection problem (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deploy.errors import DeployError
from edge.errors import EdgeError
from edge.schema import Field, check_args


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", required=True, help="user@host of the device")
    p.add_argument("--port", type=int, default=None, help="ssh port (default: ssh's)")
    p.add_argument("--key", type=Path, default=None, help="ssh private key")
    p.add_argument("--known-hosts", type=Path, default=None, help="known_hosts file (default: ~/.ssh/known_hosts)")
    p.add_argument("--prefix", default="edgevision", help="install folder on the device, relative to home (default edgevision)")
    p.add_argument("--python", default="python3", help="the device's python for install.py (default python3)")


def _bundle_args(p: argparse.ArgumentParser, required_device: bool = True) -> None:
    p.add_argument("--device", required=required_device, help="board profile name (devices/NAME.toml)")
    p.add_argument("--model", action="append", default=[], type=Path,
                   help="a .tflite, or a run's export folder (the board's model_variant is picked); repeatable")
    p.add_argument("--config", type=Path, default=None, help="pipeline.toml whose models are bundled")
    p.add_argument("--source", default=None, help="source URI (default: the board's camera)")
    p.add_argument("--sink", action="append", default=[], help="sink URI; repeatable")
    p.add_argument("--version", default=None, help="release name (default: UTC time + model hash)")
    p.add_argument("--out", type=Path, default=Path("out/bundles"), help="where bundles go (default out/bundles)")
    p.add_argument("--wheel", type=Path, default=None, help="use this edgevision wheel instead of building one")
    p.add_argument("--devices-dir", type=Path, default=None, help="board profiles folder (default devices/)")


def _install_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--venv-python", default=None, help="device interpreter that creates the venv")
    p.add_argument("--site-packages", action="append", default=[],
                   help="device folder with a pre-installed runtime the venv should see; repeatable")
    p.add_argument("--no-deps", action="store_true", help="install the wheel without dependencies")
    p.add_argument("--service-mode", choices=("systemd-system", "systemd-user", "supervisor"), default=None,
                   help="default: systemd when the device runs it (user service when not root), else supervisor")
    p.add_argument("--health-timeout", type=float, default=60.0)
    p.add_argument("--settle", type=float, default=2.0, help="seconds the restarted service must stay up")


def _target(args):
    from deploy.ssh import Target

    return Target(args.host, args.port, args.key, args.known_hosts, args.prefix, args.python)


def _options(args):
    from deploy.flash import InstallOptions

    return InstallOptions(args.venv_python, args.site_packages, args.no_deps, args.service_mode,
                          args.health_timeout, args.settle)


def _make_bundle(args, device: str | None = None) -> Path:
    from deploy.bundle import BundleRequest, make_bundle

    folder = make_bundle(BundleRequest(device or args.device, args.model, args.config, args.source, args.sink,
                                       args.version, args.out, args.wheel, args.devices_dir))
    print(f"bundle: {folder}", file=sys.stderr)
    return folder


def _report(result) -> int:
    if result.status == "ok":
        line = f"{result.host}: ok: {result.version}"
        if result.previous:
            line += f" (previous {result.previous})"
        skipped = result.detail.get("skipped_packages")
        if skipped:
            line += f"; skipped system packages not offered by the device's apt: {', '.join(skipped)}"
        print(line + (f"; {result.health}" if result.health else ""))
        return 0
    print(f"{result.host}: {result.status}: {result.reason}")
    return 1


def cmd_bundle(args) -> int:
    print(_make_bundle(args))
    return 0


def cmd_flash(args) -> int:
    from deploy.flash import flash

    target = _target(args)
    bundle = args.bundle or _make_bundle(args)
    return _report(flash(bundle, target, _options(args)))


def cmd_rollback(args) -> int:
    from deploy.flash import rollback

    return _report(rollback(_target(args), args.health_timeout, args.settle))


def cmd_status(args) -> int:
    from deploy.flash import status

    result = status(_target(args))
    print(f"{result.host}: current {result.version}, previous {result.previous}, releases "
          f"{', '.join(result.detail.get('releases', []))}")
    return 0 if result.status == "ok" else 1


def cmd_fleet(args) -> int:
    from deploy.fleet import deploy_fleet, read_inventory

    bundles: dict[str, Path] = {}
    for item in args.bundle:
        device, sep, folder = item.partition("=")
        if not sep:
            raise DeployError(f"--bundle {item!r}: expected BOARD=FOLDER")
        bundles[device] = Path(folder)
    if not bundles:
        for device in sorted({h.device for h in read_inventory(args.inventory, args.limit) if h.device}):
            bundles[device] = _make_bundle(args, device)
    results = deploy_fleet(args.inventory, bundles, _options(args), args.key, args.known_hosts, args.forks, args.limit)
    print("host\tstatus\tversion\treason")
    for r in results:
        print(f"{r.host}\t{r.status}\t{r.version or '-'}\t{r.reason or r.health}")
    return 0 if all(r.status == "ok" for r in results) else 1


def cmd_bench(args) -> int:
    from deploy.remote_bench import remote_bench

    report = remote_bench(_target(args), args.bench_args, args.out)
    print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy", description="Bundle, flash and bench edge devices.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("bundle", help="build a versioned bundle for one board")
    _bundle_args(p)
    p.set_defaults(run=cmd_bundle)
    p = sub.add_parser("flash", help="copy a bundle to a device, install it, restart the service, check health")
    _target_args(p)
    _bundle_args(p, required_device=False)
    p.add_argument("--bundle", type=Path, default=None, help="an existing bundle folder (else one is built)")
    _install_args(p)
    p.set_defaults(run=cmd_flash)
    p = sub.add_parser("rollback", help="switch a device back to its previous release")
    _target_args(p)
    p.add_argument("--health-timeout", type=float, default=60.0)
    p.add_argument("--settle", type=float, default=2.0)
    p.set_defaults(run=cmd_rollback)
    p = sub.add_parser("status", help="current and previous release of a device")
    _target_args(p)
    p.set_defaults(run=cmd_status)
    p = sub.add_parser("fleet", help="deploy to every host of an Ansible inventory in parallel")
    p.add_argument("--inventory", required=True, type=Path)
    p.add_argument("--limit", default="all", help="Ansible host pattern (default all)")
    p.add_argument("--forks", type=int, default=10)
    p.add_argument("--bundle", action="append", default=[], metavar="BOARD=FOLDER", help="existing bundle per board")
    p.add_argument("--key", type=Path, default=None)
    p.add_argument("--known-hosts", type=Path, default=None)
    _bundle_args(p, required_device=False)
    _install_args(p)
    p.set_defaults(run=cmd_fleet)
    p = sub.add_parser("bench", help="run `python -m edge bench` on a device over ssh and fetch the report")
    _target_args(p)
    p.add_argument("--out", type=Path, default=Path("out/bench"), help="local folder for the report")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="-- then arguments for `edge bench` on the device")
    p.set_defaults(run=cmd_bench)
    return parser


# Ranges of the numeric options, checked before a bundle is built or a device is contacted.
OPTION_FIELDS = (
    Field("port", int, min=1, max=65535),
    Field("health_timeout", float, above=0, max=86400, expect="seconds > 0 and <= 86400"),
    Field("settle", float, min=0, max=3600),
    Field("forks", int, min=1, max=1000),
)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_args(args, OPTION_FIELDS)
        return args.run(args)
    except (DeployError, EdgeError) as exc:
        print(f"deploy {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
