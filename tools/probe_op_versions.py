"""Measure the highest version of each builtin op an older TFLite runtime accepts, by loading patched models.

    python -m tools.probe_op_versions --runtime-python .venv-tflite214/bin/python --label 2.14 \\
        --out export/facts/tflite_runtime_2.14_op_versions.json MODEL.tflite [MODEL.tflite ...]

For every builtin op used by the given models (exported by ``python -m export``), copies of one model are
written with that op's version set to 1..--max-version; the runtime's own Python (a venv with
``tflite-runtime==X`` and ``numpy<2``) tries to create an interpreter for each, and the highest version that
loads is recorded. The result is data for export.min_runtime, with the runtime and the method written in it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

_LOADER = r"""
import sys, json
from tflite_runtime.interpreter import Interpreter
ok = {}
for path in sys.argv[1:]:
    try:
        Interpreter(model_path=path)
        ok[path] = True
    except Exception:
        ok[path] = False
print(json.dumps(ok))
"""


def _opname(model, index: int) -> str:
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.opcode_to_name(model, index)


def patched_copies(model_path: Path, folder: Path, max_version: int) -> dict[str, list[tuple[int, Path]]]:
    from tensorflow.lite.tools import flatbuffer_utils

    base = flatbuffer_utils.read_model(str(model_path))
    out: dict[str, list[tuple[int, Path]]] = {}
    for index in range(len(base.operatorCodes)):
        name = _opname(base, index)
        for version in range(1, max_version + 1):
            model = flatbuffer_utils.read_model(str(model_path))
            model.operatorCodes[index].version = version
            path = folder / f"{model_path.stem}_{name}_v{version}.tflite"
            flatbuffer_utils.write_model(model, str(path))
            out.setdefault(name, []).append((version, path))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--runtime-python", required=True, help="python of a venv with the old tflite-runtime")
    p.add_argument("--label", required=True, help="the runtime version, e.g. 2.14")
    p.add_argument("--max-version", type=int, default=14)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    found: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            copies = patched_copies(model, Path(tmp), args.max_version)
            paths = [str(path) for versions in copies.values() for _, path in versions]
            result = subprocess.run([args.runtime_python, "-c", _LOADER, *paths], capture_output=True, text=True)
            if result.returncode:
                print(result.stderr, file=sys.stderr)
                return 1
            loaded = json.loads(result.stdout.strip().splitlines()[-1])
            for name, versions in copies.items():
                ok = [v for v, path in versions if loaded[str(path)]]
                if ok:
                    found[name] = max(found.get(name, 0), max(ok))
    version = subprocess.run([args.runtime_python, "-c", "import tflite_runtime; print(tflite_runtime.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    table = {
        "runtime": f"tflite-runtime {version}",
        "label": args.label,
        "source": ("measured by tools/probe_op_versions.py: each op's version in an exported model set to "
                   f"1..{args.max_version}, loaded with tflite_runtime.interpreter.Interpreter {version}; the "
                   "highest version that loads is the maximum."),
        "max_versions": dict(sorted(found.items())),
    }
    args.out.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(table["max_versions"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
