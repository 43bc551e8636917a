"""QAT, PQAT and CQAT on a model with a layer tfmot's 8-bit scheme cannot quantise (a gated Multiply, as in
LR-ASPP segmentation heads): the layer stays float in all three, the rest is quantised, nothing raises.
(tfmot 0.8.1's prune/cluster-preserving registries raised on it: see export/optimize/qat.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from export.optimize import OptimizeOptions, optimize
from export.optimize.common import FineTune


@pytest.fixture(scope="module")
def gated():
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    x = keras.Input((32, 32, 3), name="image")
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(x)
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name="gap")(a)
    g = keras.layers.Conv2D(8, 1, activation="sigmoid", name="gate")(pooled)
    y = keras.layers.Conv2D(4, 1, name="logits")(keras.layers.Multiply(name="mul")([a, g]))
    images = np.random.default_rng(0).random((16, 32, 32, 3), dtype=np.float32)
    return keras.Model(x, y), images


@pytest.mark.parametrize("mode", ["qat", "pqat", "cqat"])
def test_unsupported_layer_stays_float(gated, mode):
    model, images = gated
    done = optimize(mode, model, images, OptimizeOptions(tune=FineTune(steps=4, batch_size=4), frequency=1,
                                                         prune_ramp=0.5, prune_dense_share=0.0))
    names = [layer.name for layer in done.model.layers]
    assert "mul" in names and "quant_c1" in names and "quant_logits" in names
    assert done.notes == ["float layers: mul"]
    assert done.model.output_names == model.output_names
