"""Loading a run's model.keras with every task's custom layers known (detection's GridDecode, segmentation's
ClassMap). Kept apart from the model builders so that no builder imports another task's module."""

from __future__ import annotations


def load_model(path: str):
    import tf_keras as keras

    from .model import GridDecode
    from .segment import model as _segment_layers  # noqa: F401  registers ClassMap

    return keras.models.load_model(path, compile=False, custom_objects={"GridDecode": GridDecode})
