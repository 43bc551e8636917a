"""Without ``--data`` every task trains on its built-in synthetic set, generated into ``data/synth-<task>`` once
and reused while it was made with the same settings. ``synth.json`` in the folder records them (generator,
its version, counts, size, seed): it is written after the last image, so a set whose generation was
interrupted, or made by another version or with other options, is generated again, never half reused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

MARKER = "synth.json"


def synthetic_matches(root: Path, settings: dict) -> bool:
    """True when ``root`` holds a complete synthetic set generated with exactly ``settings``."""
    marker = Path(root) / MARKER
    try:
        return json.loads(marker.read_text()) == json.loads(json.dumps(settings))
    except (OSError, ValueError):
        return False


def cached_synthetic(root: Path, settings: dict, generate: Callable[[Path], object], what: str,
                     say: Callable[[str], None] = lambda text: print(text, flush=True)) -> Path:
    """``root`` holding the set ``generate(root)`` makes with ``settings``: reused when its marker matches,
    else generated now (the marker removed first, written last)."""
    root = Path(root)
    if synthetic_matches(root, settings):
        return root
    say(f"no --data given: generating {what} in {root}")
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).unlink(missing_ok=True)
    generate(root)
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(json.dumps(settings, sort_keys=True) + "\n")
    os.replace(tmp, root / MARKER)
    return root
