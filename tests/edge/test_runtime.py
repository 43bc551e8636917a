"""edge's interpreter package: ai-edge-litert, else tflite-runtime, never TensorFlow (edge/runtime.py).

Each case runs in a fresh interpreter with packages hidden by a meta-path finder, as on a board where they
are not installed.
"""

from __future__ import annotations

from tests.edge.test_toml_read import run_hidden

LOAD = """
    import sys
    from edge.errors import ModelError
    from edge.runtime import load_runtime
    try:
        rt = load_runtime()
        print("runtime", rt.name, rt.module.__name__)
    except ModelError as exc:
        print("error", exc)
    print("tensorflow imported:", any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules))
"""


def test_ai_edge_litert_first(repo):
    out = run_hidden("tensorflow", LOAD, repo)
    assert out.returncode == 0, out.stderr
    assert "runtime ai-edge-litert ai_edge_litert.interpreter" in out.stdout
    assert "tensorflow imported: False" in out.stdout


def test_neither_runtime_is_a_clear_error_and_never_tensorflow(repo):
    """With both device runtimes absent edge does not fall back to tensorflow.lite (installed on this host):
    it says which packages it needs and the pip extras that bring them."""
    out = run_hidden("ai_edge_litert,tflite_runtime", LOAD, repo)
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("error no TFLite runtime is installed"), out.stdout
    for needed in ("ai-edge-litert", "tflite-runtime", "edgevision[edge]", "edgevision[edge-legacy]"):
        assert needed in first
    assert "tensorflow imported: False" in out.stdout
