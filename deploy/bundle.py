"""``python -m deploy bundle``: one versioned folder with everything a board needs to run a pipeline.

    out/bundles/<board>-<version>/
      manifest.json      format, version, board, sha256 + size of every other file, wheel, models, service argv
      install.py         device-side installer (deploy/remote_install.py, standard library only)
      supervise.py       fallback service manager for boards without systemd
      wheels/edgevision-<v>-py3-none-any.whl   this project, built with `pip wheel --no-deps`
      models/*.tflite    the chosen model variants (a run's export folder gives the board's variant)
      pipeline.toml      the pipeline, with model paths pointing into models/
      device.toml        the board profile (bench compares against its reference numbers)
      service/*.in       the profile's systemd unit templates
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deploy.errors import DeployError
from deploy.remote_install import MANIFEST, VERSION_RE, sha256_file
from deploy.toml_write import dumps as toml_dumps
from edge.board import BoardProfile, default_devices_dir, profile_by_name

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("edge", "train", "export", "deploy")


@dataclass
class BundleRequest:
    device: str
    models: list[Path] = field(default_factory=list)  # files, or export folders holding *_<variant>.tflite
    config: Path | None = None  # a pipeline.toml whose model paths are bundled
    source: str | None = None  # default: the profile's camera
    sinks: list[str] = field(default_factory=list)
    version: str | None = None
    out: Path = Path("out/bundles")
    wheel: Path | None = None  # a prebuilt wheel; default: build one from this checkout
    devices_dir: Path | None = None


def choose_model(path: Path, profile: BoardProfile) -> Path:
    """A .tflite file as given, or from an export folder the file for the board's model variant."""
    if path.is_file():
        if path.suffix != ".tflite":
            raise DeployError(f"--model {path}: expected a .tflite file or an export folder")
        return verified_model(path)
    if path.is_dir():
        found = sorted(path.glob(f"*_{profile.model_variant}.tflite"))
        if len(found) != 1:
            have = ", ".join(p.name for p in sorted(path.glob("*.tflite"))) or "no .tflite files"
            raise DeployError(f"--model {path}: want exactly one *_{profile.model_variant}.tflite for board "
                              f"{profile.name} (model_variant in {profile.path}); found {have}")
        return verified_model(found[0])
    raise DeployError(f"--model {path}: no such file or folder")


def verified_model(path: Path) -> Path:
    """``path`` once it parses as a whole TFLite model whose metadata the runtime can read: a truncated,
    corrupt or renamed file is refused here, not on the device after flashing."""
    from edge.errors import EdgeError
    from edge.metadata import model_info
    from edge.model_file import read_model_file

    try:
        model_info(read_model_file(path))
    except EdgeError as exc:
        raise DeployError(f"--model {path}: not bundled: {exc}") from None
    return path


def check_pipeline(data: dict, where: str) -> None:
    """The bundled pipeline.toml as the device will read it: top-level keys, every [[model]] table, the
    source's and sinks' options (folders are the device's, so not looked for here)."""
    from edge.pipeline_config import TOP_FIELDS, models_from_entries
    from edge.schema import check_mapping
    from edge.uri_options import check_sink_uri, check_source_uri

    check_mapping(data, TOP_FIELDS, where)
    models_from_entries([dict(e) for e in data.get("model", [])], where, data.get("threads"))
    if data.get("source"):
        check_source_uri(data["source"])
    sinks = data.get("sinks", [])
    for uri in [sinks] if isinstance(sinks, str) else sinks:
        check_sink_uri(uri, local=False)


def build_wheel(dest: Path) -> Path:
    """``pip wheel --no-deps`` on a copy of this checkout (so parallel builds never share build/)."""
    with tempfile.TemporaryDirectory(prefix="edgevision-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            if (REPO / name).is_file():
                shutil.copy2(REPO / name, src / name)
        for pkg in PACKAGE_DIRS:
            shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                "--disable-pip-version-check", str(src), "-w", str(dest)]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            raise DeployError(f"building the wheel failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    wheels = sorted(dest.glob("edgevision-*.whl"))
    if len(wheels) != 1:
        raise DeployError(f"expected one edgevision wheel in {dest}, found {[w.name for w in wheels]}")
    return wheels[0]


def _pipeline_entries(req: BundleRequest, profile: BoardProfile) -> tuple[dict, list[Path]]:
    """The pipeline as TOML data with models/ paths, and the model files to copy."""
    data: dict = {}
    models: list[Path] = []
    if req.config:
        from edge.pipeline_config import read_pipeline_toml

        data = read_pipeline_toml(req.config)  # ConfigError naming the file: not UTF-8, [model], bad types
        check_pipeline(data, f"--config {req.config}")
        for entry in data.get("model", []):
            path = Path(entry["path"])
            models.append(choose_model(path if path.is_absolute() else req.config.parent / path, profile))
        entries = [dict(e) for e in data.get("model", [])]
    else:
        entries = []
    for m in req.models:
        models.append(choose_model(Path(m), profile))
        entries.append({})
    if not models:
        raise DeployError("no model to bundle: give --model FILE|EXPORT_DIR or --config pipeline.toml")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise DeployError(f"two models share a file name ({', '.join(names)}); rename one")
    for entry, model in zip(entries, models):
        entry["path"] = f"models/{model.name}"
        entry.setdefault("threads", profile.threads)
        entry.setdefault("delegate", profile.delegate)
    data["model"] = entries
    data["source"] = req.source or data.get("source") or profile.camera
    if req.sinks:
        data["sinks"] = list(req.sinks)
    check_pipeline(data, "the bundled pipeline.toml")
    return data, models


def service_argv(pipeline: dict) -> list[str]:
    """What the service runs; ``{current}`` becomes PREFIX/current on the device."""
    return ["{current}/venv/bin/python", "-m", "edge", "run", "--config", "{current}/pipeline.toml", "--quiet"]


def make_bundle(req: BundleRequest) -> Path:
    devices_dir = Path(req.devices_dir) if req.devices_dir else default_devices_dir()
    profile = profile_by_name(req.device, devices_dir)
    pipeline, models = _pipeline_entries(req, profile)
    digest = hashlib.sha256()
    for m in models:
        digest.update(sha256_file(m).encode())
    version = req.version or (_dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
                              + "-" + digest.hexdigest()[:8])
    if not VERSION_RE.match(version):
        raise DeployError(f"--version {version!r}: use letters, digits, '.', '_', '+', '-' (starting alphanumeric)")
    folder = Path(req.out) / f"{profile.name}-{version}"
    if folder.exists():
        raise DeployError(f"{folder} already exists; choose another --version")
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "wheels").mkdir(parents=True)
    (tmp / "models").mkdir()
    (tmp / "service").mkdir()
    wheel = shutil.copy2(req.wheel, tmp / "wheels") if req.wheel else build_wheel(tmp / "wheels")
    for m in models:
        shutil.copy2(m, tmp / "models" / m.name)
    here = Path(__file__).resolve().parent
    shutil.copy2(here / "remote_install.py", tmp / "install.py")
    shutil.copy2(here / "supervise.py", tmp / "supervise.py")
    shutil.copy2(profile.path, tmp / "device.toml")
    for template in (profile.service, profile.user_service):
        shutil.copy2(devices_dir / template, tmp / "service" / Path(template).name)
    (tmp / "pipeline.toml").write_text(toml_dumps(pipeline), encoding="utf-8")
    files = {}
    for item in sorted(tmp.rglob("*")):
        if item.is_file():
            rel = item.relative_to(tmp).as_posix()
            files[rel] = {"sha256": sha256_file(item), "size": item.stat().st_size}
    manifest = {
        "format": "edgevision-bundle", "version": version, "board": profile.name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wheel": f"wheels/{Path(wheel).name}", "pip_extra": profile.pip_extra,
        "venv_system_site_packages": profile.venv_system_site_packages,
        "numpy_opencv": profile.numpy_opencv, "system_packages": list(profile.system_packages), "headless_optional": list(profile.headless_optional),
        "models": [f"models/{m.name}" for m in models],
        "service": {"argv": service_argv(pipeline),
                    "system": f"service/{Path(profile.service).name}",
                    "user": f"service/{Path(profile.user_service).name}"},
        "files": files,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.rename(folder)
    return folder
