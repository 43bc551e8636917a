"""LR-ASPP-style segmentation head on the shared MobileNetV2-style backbone, decoded down to stride 8.

The stride-32 features give a global-pooling gate and a context branch (LR-ASPP); unlike the original
head, which added a bare 1x1 classifier of the stride-8 features to the context upsampled 4x, the context
is brought back in two steps: 2x up and fused with the stride-16 features, then 2x up and fused with the
stride-8 features, each followed by a separable 3x3 conv. At 128 px the stride-32 grid is 4x4, coarser
than most synthetic shapes, and the stride-8 features (after 6 blocks) cannot tell a star from a cross
alone: that head reached mIoU 0.26 with shape IoUs of 0.01-0.26. The classifier runs on the stride-8
fusion and its logits are upsampled bilinearly to the input size: ``logits`` [1, S, S, C].
``with_argmax`` appends ``class_map`` [1, S, S] (int32 class index per pixel) for runtimes that want the
arg-max inside the model.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from ..model import _conv_bn, _sep_conv, backbone


@keras.utils.register_keras_serializable(package="edgevision")
class ClassMap(keras.layers.Layer):
    """Logits [B, H, W, C] -> class indices [B, H, W] (int32): TFLite ARG_MAX."""

    def call(self, logits):
        return tf.argmax(logits, axis=-1, output_type=tf.int32)


def build_segmenter(num_classes: int, input_size: int, width: float = 0.35, head_channels: int = 64) -> keras.Model:
    image = keras.Input((input_size, input_size, 3), name="image")
    c3, c4, c5 = backbone(image, width)
    f = head_channels
    high = _conv_bn(c5, f, 1, 1, "lraspp_high")
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True, name="lraspp_pool")(c5)
    gate = keras.layers.Conv2D(f, 1, activation="sigmoid", name="lraspp_gate")(gate)
    high = keras.layers.Multiply(name="lraspp_mul")([high, gate])
    x = keras.layers.UpSampling2D(2, interpolation="bilinear", name="seg_up32")(high)
    x = keras.layers.Add(name="seg_add16")([x, _conv_bn(c4, f, 1, 1, "seg_lat16")])
    x = _sep_conv(x, f, "seg_smooth16")
    x = keras.layers.UpSampling2D(2, interpolation="bilinear", name="seg_up16")(x)
    x = keras.layers.Add(name="seg_add8")([x, _conv_bn(c3, f, 1, 1, "seg_lat8")])
    x = _sep_conv(x, f, "seg_smooth8")
    x = keras.layers.Conv2D(num_classes, 1, name="seg_cls")(x)
    logits = keras.layers.UpSampling2D(8, interpolation="bilinear", name="logits", dtype="float32")(x)
    return keras.Model(image, logits, name="lraspp")


def with_argmax(model: keras.Model) -> keras.Model:
    return keras.Model(model.input, ClassMap(name="class_map")(model.output), name=model.name + "_argmax")
