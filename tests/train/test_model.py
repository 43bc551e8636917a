"""The detector graph: output name/shape/range, input-size validation, saving, weights files."""

import numpy as np
import pytest
import tf_keras as keras

from train.model import DetectorConfig, ModelConfigError, build_detector
from train.saved_model import load_model
from train.transfer import load_initial_weights


@pytest.fixture(scope="module")
def small_model():
    return build_detector(DetectorConfig(num_classes=3, input_size=192, width=0.35))


def test_output_name_shape_and_range(small_model):
    assert small_model.output_names == ["detections"]
    n = (192 // 8) ** 2 + (192 // 16) ** 2 + (192 // 32) ** 2
    assert small_model.output_shape == (None, n, 4 + 3)
    out = small_model(np.random.default_rng(0).uniform(0, 1, (1, 192, 192, 3)).astype(np.float32)).numpy()
    assert out.shape == (1, n, 7) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    # the first row is cell (0, 0) of stride 8: its centre lies within one stride of (4, 4) px
    assert abs(out[0, 0, 0] * 192 - 4) <= 8 and abs(out[0, 0, 1] * 192 - 4) <= 8
    np.testing.assert_allclose(out[0, :, 4:], 0.01, atol=0.02)  # class prior at random init


@pytest.mark.parametrize("size", [100, 160, 200, 672, "256"])
def test_unsupported_input_sizes_raise(size):
    with pytest.raises(ModelConfigError, match=f"input size {size!r} is not supported; expected a multiple of 32"):
        build_detector(DetectorConfig(num_classes=2, input_size=size))


def test_other_bad_options_raise():
    with pytest.raises(ModelConfigError, match="width multiplier 3"):
        DetectorConfig(num_classes=2, width=3).validate()
    with pytest.raises(ModelConfigError, match="number of classes 0"):
        DetectorConfig(num_classes=0).validate()


def test_keras_save_and_load_roundtrip(small_model, tmp_path):
    x = np.random.default_rng(1).uniform(0, 1, (2, 192, 192, 3)).astype(np.float32)
    small_model.save(tmp_path / "model.keras")
    again = load_model(str(tmp_path / "model.keras"))
    np.testing.assert_allclose(again(x).numpy(), small_model(x).numpy(), atol=1e-5)
    assert again.output_names == ["detections"]


def test_weights_from_keras_applications_mobilenetv2_h5(tmp_path):
    """A user's MobileNetV2 .h5 (here randomly initialised, never downloaded) loads by layer name."""
    donor = keras.applications.MobileNetV2(input_shape=(192, 192, 3), alpha=0.35, include_top=False, weights=None)
    donor.save_weights(tmp_path / "mbv2.h5")
    model = build_detector(DetectorConfig(num_classes=2, input_size=192, width=0.35))
    loaded = load_initial_weights(model, str(tmp_path / "mbv2.h5"))
    assert loaded.backbone >= 50
    np.testing.assert_array_equal(model.get_layer("block_5_expand").get_weights()[0],
                                  donor.get_layer("block_5_expand").get_weights()[0])


def test_weights_errors(tmp_path):
    model = build_detector(DetectorConfig(num_classes=2, input_size=192))
    with pytest.raises(ModelConfigError, match="no such file"):
        load_initial_weights(model, str(tmp_path / "none.h5"))
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(ModelConfigError, match="expected a .keras model, a run folder or a .h5"):
        load_initial_weights(model, str(tmp_path / "w.bin"))
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="unrelated")])
    other.save(tmp_path / "other.keras")
    with pytest.raises(ModelConfigError, match="no layer name and shape matched"):
        load_initial_weights(model, str(tmp_path / "other.keras"))
