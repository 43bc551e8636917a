"""LR-ASPP segmentation head on the shared MobileNetV2-style backbone.

High-level branch on the stride-32 features (1x1 conv, gated by a global-pooling attention branch),
upsampled to stride 8 and added to a classifier on the stride-8 features; the sum is upsampled
bilinearly to the input size: ``logits`` [1, S, S, C]. ``with_argmax`` appends ``class_map`` [1, S, S]
(int32 class index per pixel) for runtimes that want the arg-max inside the model.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from ..model import _conv_bn, backbone


@keras.utils.register_keras_serializable(package="edgevision")
class ClassMap(keras.layers.Layer):
    """Logits [B, H, W, C] -> class indices [B, H, W] (int32): TFLite ARG_MAX."""

    def call(self, logits):
        return tf.argmax(logits, axis=-1, output_type=tf.int32)


def build_segmenter(num_classes: int, input_size: int, width: float = 0.35, head_channels: int = 64) -> keras.Model:
    image = keras.Input((input_size, input_size, 3), name="image")
    c3, _, c5 = backbone(image, width)
    high = _conv_bn(c5, head_channels, 1, 1, "lraspp_high")
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True, name="lraspp_pool")(c5)
    gate = keras.layers.Conv2D(head_channels, 1, activation="sigmoid", name="lraspp_gate")(gate)
    high = keras.layers.Multiply(name="lraspp_mul")([high, gate])
    high = keras.layers.UpSampling2D(4, interpolation="bilinear", name="lraspp_up")(high)
    high = keras.layers.Conv2D(num_classes, 1, name="lraspp_high_cls")(high)
    low = keras.layers.Conv2D(num_classes, 1, name="lraspp_low_cls")(c3)
    x = keras.layers.Add(name="lraspp_add")([high, low])
    logits = keras.layers.UpSampling2D(8, interpolation="bilinear", name="logits", dtype="float32")(x)
    return keras.Model(image, logits, name="lraspp")


def with_argmax(model: keras.Model) -> keras.Model:
    return keras.Model(model.input, ClassMap(name="class_map")(model.output), name=model.name + "_argmax")
