"""Initial weights and the weights of the best epoch, for the training loop (train/task_fit.py).

``--weights`` takes:
- a keras.applications MobileNetV2 weights file (``mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<size>
  [_no_top].h5``) by path, or by bare file name from Keras' cache folder (``$KERAS_HOME/models``, else
  ``~/.keras/models``). We never download it. Every layer of our backbone must be in the file with the same
  shape (train/model.py::backbone uses keras.applications' layer names), or a ModelConfigError lists the
  layers that differ (a file of another width);
- a previous run of ours: its folder, its model.keras, or an .h5 of its weights. Every layer whose name and
  shape match is loaded (a head for another class count keeps its fresh weights; the message says so).

Note: keras.applications' ImageNet weights were trained on pixels scaled to -1..1, ours are 0..1; the
BatchNorm statistics adapt in the first epochs of fine-tuning.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .epochs import _flat_layers, is_backbone_layer, set_backbone_trainable
from .model import ModelConfigError

KERAS_APP_NAME = re.compile(r"^mobilenet_v2_weights_tf_dim_ordering_tf_kernels_(?P<alpha>[\d.]+)_(?P<size>\d+)"
                            r"(?P<no_top>_no_top)?\.h5$")


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def resolve_weights(spec: str) -> Path:
    """The file ``--weights`` names: a path, a run folder (its model.keras), or a file in Keras' cache folder."""
    path = Path(spec).expanduser()
    if path.is_dir():
        model = path / "model.keras"
        if not model.is_file():
            raise ModelConfigError(f"--weights {spec!r}: the folder holds no model.keras (a finished run of "
                                   "`python -m train`)")
        return model
    if path.is_file():
        return path
    cached = keras_cache_dir() / path.name
    if path.name == spec and cached.is_file():
        return cached
    raise ModelConfigError(f"--weights {spec!r}: no such file (looked at {path.resolve()} and in Keras' cache "
                           f"folder {keras_cache_dir()}); we never download weights: fetch them with "
                           "keras.applications.MobileNetV2(weights='imagenet', include_top=False) or copy the file")


def _h5_layers(path: Path) -> dict[str, list[np.ndarray]]:
    """layer name -> weight arrays of a Keras HDF5 weights file (tf_keras/keras.applications layout)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f  # a whole-model .h5 nests the weights
            if "layer_names" not in root.attrs:
                raise ModelConfigError(f"--weights {str(path)!r}: an HDF5 file without Keras layer weights "
                                       "(no 'layer_names' attribute)")
            out = {}
            for name in root.attrs["layer_names"]:
                name = name.decode() if isinstance(name, bytes) else str(name)
                group = root[name]
                names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
                out[name] = [np.asarray(group[n]) for n in names]
            return out
    except OSError as exc:
        raise ModelConfigError(f"--weights {str(path)!r} is not an HDF5 weights file: {exc}") from exc


def _keras_layers(path: Path) -> dict[str, list[np.ndarray]]:
    from .saved_model import load_model

    try:
        source = load_model(str(path))
    except Exception as exc:  # Keras raises several types for a foreign or broken file
        raise ModelConfigError(f"--weights {str(path)!r} is not a Keras model file: {exc}") from exc
    return {layer.name: layer.get_weights() for layer in _flat_layers(source)
            if layer.weights and not hasattr(layer, "layers")}


@dataclass
class LoadedWeights:
    path: Path
    kind: str  # "keras.applications" or "run"
    backbone: int  # backbone layers loaded
    other: int  # other layers loaded (name and shape matched)
    kept: list[str]  # our layers with weights the file has under the same name but another shape

    def __str__(self) -> str:
        kept = f"; {len(self.kept)} layer(s) keep fresh weights (other shape: {', '.join(self.kept[:4])})" \
            if self.kept else ""
        return (f"loaded {self.kind} weights from {self.path}: {self.backbone} backbone layer(s), "
                f"{self.other} other layer(s){kept}")


def _shapes(arrays) -> str:
    return str(tuple(arrays[0].shape)) if arrays else "no weights"  # the kernel (or BN gamma) says it


def load_initial_weights(model, spec: str, width: float | None = None) -> LoadedWeights:
    """Load ``--weights`` into ``model`` (any of our task models) by layer name and shape; see the module note."""
    path = resolve_weights(spec)
    if path.suffix == ".keras":
        source = _keras_layers(path)
    elif path.suffix in (".h5", ".hdf5"):
        source = _h5_layers(path)
    else:
        raise ModelConfigError(f"--weights {spec!r}: expected a .keras model, a run folder or a .h5 weights file")
    app = KERAS_APP_NAME.match(path.name)
    ours = [layer for layer in _flat_layers(model) if layer.weights and not hasattr(layer, "layers")]
    backbone = [layer for layer in ours if is_backbone_layer(layer.name)]
    if app and not backbone:
        raise ModelConfigError(f"--weights {spec!r}: a MobileNetV2 weights file, but this task's model has no "
                               "MobileNetV2 backbone; pass a previous run of the same task instead")
    bad = []
    for layer in backbone:
        arrays = source.get(layer.name)
        mine = layer.get_weights()
        if arrays is None:
            bad.append(f"{layer.name}: not in the file")
        elif [a.shape for a in arrays] != [w.shape for w in mine]:
            bad.append(f"{layer.name}: file {_shapes(arrays)}, model {_shapes(mine)}")
    has_backbone = any(layer.name in source for layer in backbone)
    if bad and (app or has_backbone):  # a file with a backbone must fit ours whole
        hint = ""
        if app and width is not None and abs(float(app["alpha"]) - float(width)) > 1e-6:
            hint = f" (the file is for width {app['alpha']}, the model has --width {width:g})"
        shown = "; ".join(bad[:6]) + (f"; and {len(bad) - 6} more" if len(bad) > 6 else "")
        raise ModelConfigError(f"--weights {spec!r}: {len(bad)} of {len(backbone)} backbone layers do not match"
                               f"{hint}: {shown}")
    loaded_backbone = loaded_other = 0
    kept = []
    for layer in ours:
        arrays = source.get(layer.name)
        if arrays is None:
            continue
        if [a.shape for a in arrays] != [w.shape for w in layer.get_weights()]:
            kept.append(layer.name)
            continue
        layer.set_weights(arrays)
        if is_backbone_layer(layer.name):
            loaded_backbone += 1
        else:
            loaded_other += 1
    if not loaded_backbone + loaded_other:
        raise ModelConfigError(f"--weights {spec!r}: no layer name and shape matched this model")
    return LoadedWeights(path, "keras.applications MobileNetV2" if app else "saved", loaded_backbone,
                         loaded_other, kept)


class BestWeights:
    """The best epoch's model weights, in ``folder`` (a TensorFlow checkpoint of the model alone)."""

    def __init__(self, folder: Path, enabled: bool = True):
        self.folder, self.enabled = Path(folder), enabled
        self.prefix = self.folder / "best"

    def save(self, model) -> None:
        if not self.enabled:
            return
        import tensorflow as tf

        self.folder.mkdir(parents=True, exist_ok=True)
        tf.train.Checkpoint(model=model).write(str(self.prefix))

    def restore_into(self, model) -> bool:
        if not Path(str(self.prefix) + ".index").is_file():
            return False
        import tensorflow as tf

        tf.train.Checkpoint(model=model).restore(str(self.prefix)).expect_partial()
        return True


class _Phases:
    def __init__(self, model, optimizer, strategy, freeze_epochs: int, make_step):
        self.model, self.freeze_epochs, self.make_step = model, int(freeze_epochs), make_step
        self.frozen: bool | None = None
        self.step = None
        # The optimizer's slots for every variable now: unfreezing later finds them, and the first step creates
        # no variables, so tf.function traces it once instead of twice (measured: a 1-epoch mirrored detector run
        # 54 -> 37 s, mostly tracing).
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        with strategy.scope():
            inner.build(model.trainable_variables)

    def step_for(self, epoch: int):
        """The training step for ``epoch`` (1-based): backbone frozen for the first --freeze-epochs."""
        frozen = epoch <= self.freeze_epochs
        if self.step is None or frozen != self.frozen:
            if self.freeze_epochs:
                set_backbone_trainable(self.model, not frozen)
            self.step, self.frozen = self.make_step(), frozen
        return self.step


def train_phases(model, optimizer, strategy, freeze_epochs: int, make_step) -> _Phases:
    return _Phases(model, optimizer, strategy, freeze_epochs, make_step)
