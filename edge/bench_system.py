"""What the machine is doing while we bench it: cores, governor, temperatures, throttling, peak memory.

Everything is read from files below ``root`` (``/`` on a device, a fake tree in tests) plus
``vcgencmd get_throttled`` on a Raspberry Pi. Missing files mean "not exposed here", never an error.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
from pathlib import Path

# vcgencmd get_throttled bits (Raspberry Pi firmware documentation).
THROTTLE_BITS = {
    0: "under-voltage now", 1: "ARM frequency capped now", 2: "throttled now", 3: "soft temperature limit now",
    16: "under-voltage has occurred", 17: "ARM frequency capping has occurred", 18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def governors(root: str | os.PathLike = "/") -> dict[str, str]:
    out = {}
    for gov in sorted(Path(root, "sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor")):
        value = _read(gov)
        if value:
            out[gov.parent.parent.name] = value
    return out


def governor_warning(govs: dict[str, str]) -> str | None:
    slow = sorted({g for g in govs.values() if g != "performance"})
    if not govs:
        return None
    if slow:
        return (f"CPU governor is {', '.join(slow)}, not performance: latencies vary with clock scaling "
                f"(echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor)")
    return None


def temperatures(root: str | os.PathLike = "/") -> list[dict]:
    """Thermal zones in degrees Celsius (the kernel reports millidegrees)."""
    zones = []
    for zone in sorted(Path(root, "sys/class/thermal").glob("thermal_zone*")):
        raw = _read(zone / "temp")
        if raw and raw.lstrip("-").isdigit():
            zones.append({"zone": zone.name, "type": _read(zone / "type") or "", "celsius": int(raw) / 1000.0})
    return zones


def decode_throttled(value: int) -> list[str]:
    return [text for bit, text in THROTTLE_BITS.items() if value & (1 << bit)]


def throttling() -> dict | None:
    """``vcgencmd get_throttled`` decoded, or None where the command does not exist."""
    tool = shutil.which("vcgencmd")
    if not tool:
        return None
    try:
        out = subprocess.run([tool, "get_throttled"], capture_output=True, text=True, timeout=5).stdout.strip()
        value = int(out.partition("=")[2], 16)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {"raw": None, "flags": ["vcgencmd get_throttled gave no value"]}
    return {"raw": hex(value), "flags": decode_throttled(value)}


def peak_rss_mb() -> float:
    """Peak resident memory of this process: VmHWM from /proc/self/status, else getrusage."""
    status = _read(Path("/proc/self/status")) or ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


X86_VENDORS = ("GenuineIntel", "AuthenticAMD")


def emulation(root: str | os.PathLike = "/") -> str | None:
    """Why this looks like an emulated ARM board (qemu-user on an x86 host), or None.

    Either the simulated board's marker ``etc/edgevision-sim`` (``python -m deploy.sim``), or an ARM
    ``platform.machine()`` while ``proc/cpuinfo`` names an x86 vendor (qemu-user shows the host's file).
    """
    base = Path(root)
    if platform.machine().lower() not in ("aarch64", "arm64", "armv7l", "armv8l"):
        return None
    if (base / "etc" / "edgevision-sim").is_file():
        return "emulated arm64 board (qemu-user, marker etc/edgevision-sim): timings are not the board's"
    cpuinfo = _read(base / "proc" / "cpuinfo") or ""
    vendor = next((v for v in X86_VENDORS if v in cpuinfo), None)
    if vendor:
        return f"{platform.machine()} code on an {vendor} CPU (emulated): timings are not the board's"
    return None


def system_facts(root: str | os.PathLike = "/") -> dict:
    govs = governors(root)
    return {
        "emulated": emulation(root),
        "machine": platform.machine(), "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "cores": os.cpu_count() or 1,
        "governors": govs, "governor_warning": governor_warning(govs),
        "temperatures": temperatures(root), "throttling": throttling(),
    }
