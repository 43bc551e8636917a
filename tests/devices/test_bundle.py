"""Bundles: contents, manifest checksums, the board's model variant, and what a tampered bundle looks like."""

from __future__ import annotations

import json
import tomllib

import pytest

from deploy.bundle import BundleRequest, choose_model, make_bundle
from deploy.errors import DeployError
from deploy.remote_install import InstallError, verify_manifest
from edge.board import profile_by_name
from edge.pipeline_config import load_config


def test_bundle_contents_and_manifest(bundle_for):
    folder = bundle_for("1.2.3")
    manifest = verify_manifest(folder)
    assert folder.name == "x86-64-1.2.3" and manifest["version"] == "1.2.3" and manifest["board"] == "x86-64"
    assert set(manifest["files"]) == {
        "install.py", "supervise.py", "device.toml", "pipeline.toml", manifest["wheel"],
        "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite",
        "service/edgevision.service.in", "service/edgevision.user.service.in"}
    assert manifest["wheel"].startswith("wheels/edgevision-") and manifest["pip_extra"] == "edge"
    config = load_config(folder / "pipeline.toml")
    assert config.source.startswith("synthetic://") and config.models[0].path == folder / manifest["models"][0]
    assert (config.models[0].threads, config.models[0].delegate) == (2, "cpu")  # from the x86-64 profile


@pytest.mark.parametrize("damage, words", [
    (lambda f: (f / "pipeline.toml").write_text("source = 'evil'\n"), ["pipeline.toml", "bytes"]),
    (lambda f: (f / "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite").unlink(), ["listed", "missing"]),
    (lambda f: (f / "extra.sh").write_text("echo\n"), ["extra.sh", "not in the manifest"]),
])
def test_tampered_bundle_is_refused(bundle_for, damage, words):
    folder = bundle_for("t1")
    damage(folder)
    with pytest.raises(InstallError) as err:
        verify_manifest(folder)
    for word in words:
        assert word in str(err.value)


def test_same_size_change_is_caught_by_sha256(bundle_for):
    folder = bundle_for("t2")
    path = folder / "device.toml"
    text = path.read_text()
    path.write_text(text.replace("x86-64", "x86_64", 1))
    with pytest.raises(InstallError, match="device.toml sha256"):
        verify_manifest(folder)


def test_export_folder_gives_the_boards_variant(tmp_path, repo, zoo):
    model = (zoo / "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite").read_bytes()
    for variant in ("float32", "float16", "int8"):
        (tmp_path / f"model_{variant}.tflite").write_bytes(model)
    assert choose_model(tmp_path, profile_by_name("rpi5", repo / "devices")).name == "model_int8.tflite"
    assert choose_model(tmp_path, profile_by_name("x86-64", repo / "devices")).name == "model_float32.tflite"
    (tmp_path / "model_float32.tflite").unlink()
    with pytest.raises(DeployError, match=r"\*_float32.tflite.*x86-64"):
        choose_model(tmp_path, profile_by_name("x86-64", repo / "devices"))


@pytest.mark.parametrize("kwargs, words", [
    ({"version": "../evil"}, ["--version"]),
    ({"models": []}, ["no model to bundle"]),
    ({"device": "rpi9"}, ["unknown board 'rpi9'"]),
])
def test_bad_bundle_requests(tmp_path, wheel, zoo, kwargs, words):
    from edge.errors import EdgeError

    req = dict(device="x86-64", models=[zoo / "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"],
               version="v1", out=tmp_path, wheel=wheel)
    req.update(kwargs)
    with pytest.raises((DeployError, EdgeError)) as err:
        make_bundle(BundleRequest(**req))
    for word in words:
        assert word in str(err.value)


def test_pipeline_toml_round_trip(tmp_path, zoo, wheel):
    config = tmp_path / "pipe.toml"
    config.write_text(f'source = "file://clip.mp4"\nsinks = ["null://"]\n\n[[model]]\npath = "{zoo}/models/'
                      'coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite"\nname = "detect"\nscore = 0.4\n')
    folder = make_bundle(BundleRequest("rpi5", config=config, version="c1", out=tmp_path / "b", wheel=wheel))
    data = tomllib.loads((folder / "pipeline.toml").read_text())
    assert data["sinks"] == ["null://"] and data["source"] == "file://clip.mp4"
    assert data["model"] == [{"path": "models/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29.tflite", "name": "detect",
                              "score": 0.4, "threads": 4, "delegate": "cpu"}]
    assert json.loads((folder / "manifest.json").read_text())["venv_system_site_packages"] is True
