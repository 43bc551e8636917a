"""Which board is this, and what should it do: detection from the filesystem, profiles from devices/*.toml.

Detection reads three places, all below a root folder (``/`` on a device, a fake tree in tests):
``proc/device-tree/model`` (Raspberry Pi, Jetson, Coral), ``etc/nv_tegra_release`` (Jetson's L4T release
file) and ``proc/cpuinfo`` (the ``Model`` line of older Pi kernels; the x86 vendor for a generic host).

A profile is a small TOML file with a fixed set of keys; a key we do not know is an error that names the
key and the file, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import ConfigError, EdgeError
from edge.toml_read import TOMLDecodeError, loads as toml_loads


class BoardError(EdgeError):
    """The board cannot be identified, or its profile is missing or invalid."""


RUNTIMES = ("ai-edge-litert", "tflite-runtime")
REFERENCE_SOURCES = ("published", "estimate", "measured")
PROFILE_KEYS = {
    "name", "description", "match", "arch", "delegate", "threads", "camera", "input_size", "runtime",
    "runtime_note", "system_packages", "venv_system_site_packages", "model_variant", "service",
    "user_service", "references", "numpy_opencv", "headless_optional",
}
NUMPY_OPENCV = ("pip", "apt")  # from PyPI wheels in the venv, or the distribution's python3-numpy/-opencv
REFERENCE_KEYS = {"model", "latency_ms", "threads", "delegate", "source", "tolerance", "note"}


@dataclass(frozen=True)
class Reference:
    """What one model should take on this board: median invoke latency with its origin and tolerance."""

    key: str  # the model's file stem, e.g. "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29"
    model: str  # file name
    latency_ms: float
    threads: int
    delegate: str
    source: str  # published | estimate | measured
    tolerance: float  # allowed relative slowdown before "warn"; twice this is "fail"
    note: str = ""


@dataclass(frozen=True)
class BoardProfile:
    name: str
    description: str
    match: tuple[str, ...]
    arch: str
    delegate: str
    threads: int
    camera: str
    input_size: tuple[int, int]
    runtime: str
    runtime_note: str
    system_packages: tuple[str, ...]
    venv_system_site_packages: bool
    model_variant: str
    service: str  # system unit template, relative to the devices folder
    user_service: str  # user unit template, relative to the devices folder
    references: dict[str, Reference] = field(default_factory=dict)
    path: Path | None = None
    numpy_opencv: str = "pip"  # "apt": the distribution's numpy and OpenCV, seen through system site-packages
    headless_optional: tuple[str, ...] = ()  # system packages a flash may skip where apt lacks them (camera only)

    @property
    def pip_extra(self) -> str:
        """The edgevision extra that installs this board's runtime (and numpy/OpenCV unless apt gives them)."""
        base = "edge" if self.runtime == "ai-edge-litert" else "edge-legacy"
        return base + "-apt" if self.numpy_opencv == "apt" else base

    def reference_for(self, model_path: str | os.PathLike) -> Reference | None:
        return self.references.get(Path(model_path).stem)


def default_devices_dir() -> Path:
    """devices/ beside the edge package in a source checkout, or $EDGEVISION_DEVICES."""
    env = os.environ.get("EDGEVISION_DEVICES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "devices"


def known_boards(devices_dir: str | os.PathLike | None = None) -> list[str]:
    folder = Path(devices_dir) if devices_dir else default_devices_dir()
    return sorted(p.stem for p in folder.glob("*.toml"))


def _require(data: dict, key: str, kind, path: Path, where: str = ""):
    if key not in data:
        raise BoardError(f"{path}: missing key '{where}{key}'")
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BoardError(
            f"{path}: key '{where}{key}' must be {kind.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _reference(key: str, data: dict, path: Path) -> Reference:
    where = f"references.{key}."
    if not isinstance(data, dict):
        raise BoardError(f"{path}: 'references.{key}' must be a table")
    unknown = sorted(set(data) - REFERENCE_KEYS)
    if unknown:
        raise BoardError(f"{path}: unknown key '{where}{unknown[0]}' (allowed: {', '.join(sorted(REFERENCE_KEYS))})")
    source = _require(data, "source", str, path, where)
    if source not in REFERENCE_SOURCES:
        raise BoardError(f"{path}: '{where}source' is {source!r}, expected one of {', '.join(REFERENCE_SOURCES)}")
    latency = _require(data, "latency_ms", float, path, where)
    tolerance = _require(data, "tolerance", float, path, where)
    if latency <= 0 or tolerance <= 0:
        raise BoardError(f"{path}: '{where}latency_ms' and '{where}tolerance' must be > 0")
    return Reference(
        key=key, model=_require(data, "model", str, path, where), latency_ms=latency,
        threads=_require(data, "threads", int, path, where), delegate=_require(data, "delegate", str, path, where),
        source=source, tolerance=tolerance, note=data.get("note", ""),
    )


def load_profile(path: str | os.PathLike) -> BoardProfile:
    """Parse and validate one profile file; any unknown or missing key raises BoardError naming it."""
    path = Path(path)
    try:
        data = toml_loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BoardError(f"board profile not found: {path}") from None
    except TOMLDecodeError as exc:
        raise BoardError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - PROFILE_KEYS)
    if unknown:
        raise BoardError(f"{path}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(PROFILE_KEYS))})")
    runtime = _require(data, "runtime", str, path)
    if runtime not in RUNTIMES:
        raise BoardError(f"{path}: 'runtime' is {runtime!r}, expected one of {', '.join(RUNTIMES)}")
    size = _require(data, "input_size", list, path)
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise BoardError(f"{path}: 'input_size' must be [width, height] positive integers, got {size!r}")
    threads = _require(data, "threads", int, path)
    if threads < 1:
        raise BoardError(f"{path}: 'threads' must be >= 1, got {threads}")
    refs = _require(data, "references", dict, path) if "references" in data else {}
    numpy_opencv = data.get("numpy_opencv", "pip")
    if numpy_opencv not in NUMPY_OPENCV:
        raise BoardError(f"{path}: 'numpy_opencv' is {numpy_opencv!r}, expected one of {', '.join(NUMPY_OPENCV)}")
    system_packages = tuple(_require(data, "system_packages", list, path))
    optional = tuple(_require(data, "headless_optional", list, path)) if "headless_optional" in data else ()
    stray = [p for p in optional if p not in system_packages]
    if stray:
        raise BoardError(f"{path}: 'headless_optional' lists {stray[0]!r}, which is not in 'system_packages'")
    venv_site = _require(data, "venv_system_site_packages", bool, path)
    if numpy_opencv == "apt" and not venv_site:
        raise BoardError(f"{path}: numpy_opencv = \"apt\" needs venv_system_site_packages = true (the venv must "
                         "see the distribution's numpy and OpenCV)")
    return BoardProfile(
        name=_require(data, "name", str, path),
        description=_require(data, "description", str, path),
        match=tuple(_require(data, "match", list, path)),
        arch=_require(data, "arch", str, path),
        delegate=_require(data, "delegate", str, path),
        threads=threads,
        camera=_require(data, "camera", str, path),
        input_size=(size[0], size[1]),
        runtime=runtime,
        runtime_note=data.get("runtime_note", ""),
        system_packages=system_packages,
        venv_system_site_packages=venv_site,
        model_variant=_require(data, "model_variant", str, path),
        service=_require(data, "service", str, path),
        user_service=_require(data, "user_service", str, path),
        references={k: _reference(k, v, path) for k, v in refs.items()},
        path=path,
        numpy_opencv=numpy_opencv,
        headless_optional=optional,
    )


def profile_by_name(name: str, devices_dir: str | os.PathLike | None = None) -> BoardProfile:
    folder = Path(devices_dir) if devices_dir else default_devices_dir()
    path = folder / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"unknown board {name!r}: no {path} (known: {', '.join(known_boards(folder)) or 'none'})")
    return load_profile(path)


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_bytes().replace(b"\x00", b"").decode("utf-8", "replace").strip()
    except OSError:
        return None


@dataclass(frozen=True)
class BoardFacts:
    """What the filesystem says, kept for the error message and the bench report."""

    device_tree_model: str | None
    tegra_release: str | None
    cpuinfo_model: str | None
    cpu_vendor: str | None


def read_facts(root: str | os.PathLike = "/") -> BoardFacts:
    root = Path(root)
    cpuinfo = _read(root, "proc/cpuinfo") or ""
    model = re.search(r"^Model\s*:\s*(.+)$", cpuinfo, re.M)
    vendor = re.search(r"^vendor_id\s*:\s*(.+)$", cpuinfo, re.M)
    return BoardFacts(
        device_tree_model=_read(root, "proc/device-tree/model"),
        tegra_release=_read(root, "etc/nv_tegra_release"),
        cpuinfo_model=model.group(1).strip() if model else None,
        cpu_vendor=vendor.group(1).strip() if vendor else None,
    )


# L4T major release -> board, used only when the device tree names no model we know.
_TEGRA_RELEASES = {"R32": "jetson-nano", "R35": "jetson-orin-nano", "R36": "jetson-orin-nano"}


def detect_board(root: str | os.PathLike = "/", devices_dir: str | os.PathLike | None = None) -> str:
    """Return the profile name for the board whose filesystem is at ``root``; BoardError when unknown."""
    facts = read_facts(root)
    folder = Path(devices_dir) if devices_dir else default_devices_dir()
    profiles = [load_profile(folder / f"{n}.toml") for n in known_boards(folder)]
    for text in (facts.device_tree_model, facts.cpuinfo_model):
        if text:
            for profile in profiles:
                if any(m.lower() in text.lower() for m in profile.match):
                    return profile.name
    if facts.tegra_release:
        major = re.match(r"#\s*(R\d+)", facts.tegra_release)
        if major and major.group(1) in _TEGRA_RELEASES:
            return _TEGRA_RELEASES[major.group(1)]
    if facts.cpu_vendor in ("GenuineIntel", "AuthenticAMD") and facts.device_tree_model is None:
        return "x86-64"
    raise BoardError(
        "cannot tell which board this is: "
        f"{Path(root) / 'proc/device-tree/model'} = {facts.device_tree_model!r}, "
        f"{Path(root) / 'etc/nv_tegra_release'} = {facts.tegra_release!r}, "
        f"cpuinfo Model = {facts.cpuinfo_model!r}, vendor = {facts.cpu_vendor!r}; "
        f"pass --board NAME with one of: {', '.join(p.name for p in profiles)}"
    )
