"""Python 3.10 has no ``tomllib``: the edge runtime reads its profiles and pipeline configs through tomli.

The import path is tested by hiding ``tomllib`` from a fresh interpreter (a meta-path finder that refuses
it, as a 3.10 interpreter would), then reading a real board profile and a pipeline config.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

HIDE = textwrap.dedent("""
    import sys
    class Hide:
        def __init__(self, names): self.names = names
        def find_spec(self, name, path=None, target=None):
            if name in self.names: raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Hide(set(sys.argv[1].split(","))))
""")


def run_hidden(hidden: str, body: str, cwd) -> subprocess.CompletedProcess:
    code = HIDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code, hidden], capture_output=True, text=True, cwd=cwd, timeout=120)


READ_BOTH = """
    from pathlib import Path
    import edge.toml_read as t
    from edge.board import load_profile
    from edge.pipeline_config import load_config
    print(t._toml.__name__)
    p = load_profile(Path("devices/rpi5.toml"))
    print(p.name, p.pip_extra, ",".join(p.headless_optional))
    Path(sys.argv[2]).write_text('source = "synthetic://?width=32&height=24"\\n[[model]]\\npath = "m.tflite"\\n')
    print(load_config(sys.argv[2]).source)
"""


def test_profiles_and_configs_read_without_tomllib(repo, tmp_path):
    proc = subprocess.run([sys.executable, "-c", HIDE + textwrap.dedent(READ_BOTH), "tomllib", str(tmp_path / "p.toml")],
                          capture_output=True, text=True, cwd=repo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[0] == "tomli"  # the fallback parser, not the standard library's
    assert lines[1] == "rpi5 edge-apt python3-picamera2"
    assert lines[2] == "synthetic://?width=32&height=24"


def test_a_bad_file_is_still_a_config_error_under_tomli(repo, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    proc = run_hidden("tomllib", f"""
        from edge.board import BoardError, load_profile
        try:
            load_profile({str(bad)!r})
        except BoardError as exc:
            print("BoardError:", exc)
    """, repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"BoardError: {bad}: not valid TOML")


def test_no_parser_at_all_names_the_package(repo):
    proc = run_hidden("tomllib,tomli", """
        from edge.board import load_profile
        load_profile("devices/rpi5.toml")
    """, repo)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr and "tomli" in proc.stderr and "python3-tomli" in proc.stderr


def test_the_edge_extras_pull_tomli_only_below_311(repo):
    from edge.toml_read import loads

    extras = loads((repo / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name in ("edge", "edge-apt", "edge-legacy", "edge-legacy-apt"):
        assert "tomli>=1.1; python_version < '3.11'" in extras[name], name
    assert not any(r.startswith(("numpy", "opencv")) for r in extras["edge-apt"] + extras["edge-legacy-apt"])
