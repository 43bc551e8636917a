"""--weights: keras.applications MobileNetV2 weight files (built here with weights=None and saved in Keras'
HDF5 format, never downloaded) load into our backbone layer by layer; a file of another width is refused
with the layers that differ; a previous run of ours loads by name and shape."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from train.classify.task import ClassifyConfig, build_classifier
from train.epochs import is_backbone_layer
from train.model import ModelConfigError
from train.transfer import load_initial_weights

pytestmark = pytest.mark.training

SIZE = 96


def _keras_app_file(folder, alpha: float):
    """A MobileNetV2 of keras.applications at ``alpha``, saved under the file name keras.applications uses."""
    donor = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), alpha=alpha, include_top=False,
                                           weights=None)
    path = folder / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{SIZE}_no_top.h5"
    donor.save_weights(path)
    return donor, path


def test_keras_applications_weights_fill_every_backbone_layer(tmp_path):
    donor, path = _keras_app_file(tmp_path, 0.35)
    model = build_classifier(4, ClassifyConfig(SIZE, 0.35))
    loaded = load_initial_weights(model, str(path), 0.35)
    ours = [layer for layer in model.layers if is_backbone_layer(layer.name) and layer.weights]
    assert loaded.backbone == len(ours) > 100
    for layer in ours:  # every backbone layer is in the file by name, with the same shapes and now the same values
        theirs = donor.get_layer(layer.name).get_weights()
        mine = layer.get_weights()
        assert [a.shape for a in mine] == [b.shape for b in theirs], layer.name
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)
    # keras.applications' last 1x1 conv (1280 channels) does not fit our 256-channel head conv: kept fresh, said
    assert "Conv_1" in loaded.kept and "Conv_1" in str(loaded)


def test_bare_file_name_is_read_from_the_keras_cache_folder(tmp_path, monkeypatch):
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    _, path = _keras_app_file(cache, 0.35)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.chdir(tmp_path)
    loaded = load_initial_weights(build_classifier(2, ClassifyConfig(SIZE, 0.35)), path.name, 0.35)
    assert loaded.path == path and loaded.backbone > 100
    with pytest.raises(ModelConfigError, match="never download"):
        load_initial_weights(build_classifier(2, ClassifyConfig(SIZE, 0.35)),
                             "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", 0.35)


def test_a_file_of_another_width_names_the_mismatching_layers(tmp_path):
    _, path = _keras_app_file(tmp_path, 0.5)
    model = build_classifier(2, ClassifyConfig(SIZE, 0.35))
    before = model.get_layer("Conv1").get_weights()[0].copy()
    with pytest.raises(ModelConfigError) as err:
        load_initial_weights(model, str(path), 0.35)
    text = str(err.value)
    assert "backbone layers do not match (the file is for width 0.5, the model has --width 0.35)" in text
    assert "block_1_project: file (1, 1, 48, 16), model (1, 1, 48, 8)" in text
    np.testing.assert_array_equal(model.get_layer("Conv1").get_weights()[0], before)  # nothing half-loaded


def test_a_previous_run_loads_by_name_and_shape(tmp_path):
    previous = build_classifier(3, ClassifyConfig(32, 0.35, head_channels=16))
    (tmp_path / "prev").mkdir()
    previous.save(tmp_path / "prev" / "model.keras")
    model = build_classifier(5, ClassifyConfig(32, 0.35, head_channels=16))
    loaded = load_initial_weights(model, str(tmp_path / "prev"), 0.35)  # the run folder
    assert loaded.kept == ["scores"]  # 3 classes there, 5 here: the output layer keeps fresh weights
    np.testing.assert_array_equal(model.get_layer("Conv_1").get_weights()[0],
                                  previous.get_layer("Conv_1").get_weights()[0])
    with pytest.raises(ModelConfigError, match="holds no model.keras"):
        load_initial_weights(model, str(tmp_path), 0.35)
