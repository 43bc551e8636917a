"""Bad input to ``python -m deploy bundle``: the .tflite it packs is opened and verified (a truncated or
renamed file is a named error, and no bundle is written), the pipeline it packs is checked as the device
will read it, and the numeric options are ranged before anything is built or contacted."""

from __future__ import annotations

import pytest

from .conftest import one_error

SSD = "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"


@pytest.fixture
def fake_wheel(tmp_path):
    """A stand-in for the project wheel: every case here fails before the wheel is copied."""
    path = tmp_path / "edgevision-0-py3-none-any.whl"
    path.write_bytes(b"PK")
    return path


def _model(kind, zoo, tmp_path):
    data = (zoo / SSD).read_bytes()
    path = tmp_path / "m" / f"{kind}.tflite"
    path.parent.mkdir(exist_ok=True)
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif kind == "jpeg":
        path.write_bytes((zoo / "images/fox.jpeg").read_bytes())
    elif kind == "empty":
        path.write_bytes(b"")
    return path


@pytest.mark.parametrize("kind, needles", [
    ("truncated", ["truncated.tflite", "not bundled", "truncated or corrupt"]),
    ("jpeg", ["jpeg.tflite", "not bundled", "not a TFLite model"]),
    ("empty", ["empty.tflite", "not bundled"]),
])
def test_bundle_verifies_the_model_it_packs(kind, needles, zoo, tmp_path, fake_wheel, run):
    model = _model(kind, zoo, tmp_path)
    out = tmp_path / "bundles"
    proc = run("deploy", "bundle", "--device", "x86-64", "--model", str(model), "--version", "v1", "--out", str(out),
               "--wheel", str(fake_wheel))
    one_error(proc, "deploy bundle: error:", needles)
    assert not out.exists() or not any(out.iterdir())  # no bundle, not even a half-made one


CONFIG_CASES = [
    ("score", '[[model]]\npath = "{ssd}"\nscore = "high"\n', ["score = 'high'", "0..1"]),
    ("model-table", '[model]\npath = "{ssd}"\n', ["[model] is one table"]),
    ("path-int", '[[model]]\npath = 5\n', ["path = 5"]),
    ("sink-option", 'sinks = ["http://0.0.0.0:8080?max_fps=0"]\n[[model]]\npath = "{ssd}"\n', ["max_fps = '0'"]),
    ("source-option", 'source = "v4l2:///dev/video0?fps=fast"\n[[model]]\npath = "{ssd}"\n', ["fps = 'fast'"]),
    ("unknown-key", '[[model]]\npath = "{ssd}"\nthreds = 2\n', ["unknown key(s) threds", "did you mean threads?"]),
]


@pytest.mark.parametrize("body, needles", [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_bundle_checks_the_pipeline_it_packs(body, needles, zoo, tmp_path, fake_wheel, run):
    config = tmp_path / "pipe.toml"
    config.write_text(body.format(ssd=zoo / SSD))
    out = tmp_path / "bundles"
    proc = run("deploy", "bundle", "--device", "x86-64", "--config", str(config), "--version", "v1",
               "--out", str(out), "--wheel", str(fake_wheel))
    one_error(proc, "deploy bundle: error:", needles)
    assert not out.exists() or not any(out.iterdir())


def test_bundle_config_not_utf8(zoo, tmp_path, fake_wheel, run):
    config = tmp_path / "pipe.toml"
    config.write_bytes(f'# caf\xe9\n[[model]]\npath = "{zoo / SSD}"\n'.encode("latin-1"))
    proc = run("deploy", "bundle", "--device", "x86-64", "--config", str(config), "--version", "v1",
               "--out", str(tmp_path / "b"), "--wheel", str(fake_wheel))
    one_error(proc, "deploy bundle: error:", ["pipe.toml", "not UTF-8"])


@pytest.mark.parametrize("args, needles", [
    (["flash", "--host", "u@h", "--port", "0", "--bundle", "."], ["--port 0", "1..65535"]),
    (["flash", "--host", "u@h", "--port", "70000", "--bundle", "."], ["--port 70000"]),
    (["flash", "--host", "u@h", "--health-timeout", "0", "--bundle", "."], ["--health-timeout 0.0"]),
    (["rollback", "--host", "u@h", "--settle", "-1"], ["--settle -1.0"]),
    (["fleet", "--inventory", "x.ini", "--forks", "0"], ["--forks 0"]),
])
def test_deploy_bad_options(args, needles, run):
    proc = run("deploy", *args)
    one_error(proc, f"deploy {args[0]}: error:", needles)
