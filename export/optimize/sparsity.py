"""Measure what an optimisation achieved: zero weights and distinct values per layer, Keras or TFLite.

The TFLite side reads the converted file's weight buffers (TensorFlow's flatbuffer_utils, host only), so a test
can check that sparsity survives conversion rather than trusting the Keras model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KERNEL_LAYERS = ("Conv2D", "Dense", "DepthwiseConv2D", "Conv2DTranspose", "SeparableConv2D")
TFLITE_WEIGHT_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1}


@dataclass(frozen=True)
class LayerSparsity:
    name: str
    kind: str
    weights: int
    zeros: int
    distinct: int  # distinct values (clustering leaves at most the cluster count)

    @property
    def sparsity(self) -> float:
        return self.zeros / self.weights if self.weights else 0.0


@dataclass(frozen=True)
class SparsityReport:
    layers: tuple[LayerSparsity, ...]

    @property
    def weights(self) -> int:
        return sum(layer.weights for layer in self.layers)

    @property
    def zeros(self) -> int:
        return sum(layer.zeros for layer in self.layers)

    @property
    def overall(self) -> float:
        return self.zeros / self.weights if self.weights else 0.0

    def of(self, names) -> float:
        """Sparsity over the named layers only (e.g. the layers a pruning pass wrapped)."""
        chosen = [layer for layer in self.layers if layer.name in set(names)]
        total = sum(layer.weights for layer in chosen)
        return sum(layer.zeros for layer in chosen) / total if total else 0.0

    def table(self) -> str:
        rows = [f"{'layer':<32} {'kind':<16} {'weights':>9} {'sparsity':>9} {'distinct':>9}"]
        for layer in self.layers:
            rows.append(f"{layer.name[:32]:<32} {layer.kind[:16]:<16} {layer.weights:>9} "
                        f"{layer.sparsity:>9.3f} {layer.distinct:>9}")
        rows.append(f"{'total':<32} {'':<16} {self.weights:>9} {self.overall:>9.3f}")
        return "\n".join(rows)


def _measure(name: str, kind: str, kernel: np.ndarray, zero_value: float = 0.0) -> LayerSparsity:
    flat = np.asarray(kernel).reshape(-1)
    return LayerSparsity(name, kind, int(flat.size), int(np.count_nonzero(flat == zero_value)),
                         int(np.unique(flat).size))


def keras_sparsity(model) -> SparsityReport:
    """Zero fraction of every kernel (Conv2D, Dense, DepthwiseConv2D...) of a tf_keras model (stripped)."""
    layers = []
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        kind = type(inner).__name__
        if kind not in KERNEL_LAYERS:
            continue
        # Read the variable, not the attribute: QAT wrappers replace ``inner.kernel`` with a fake-quant tensor.
        kernels = [w for w in layer.weights if w.name.split("/")[-1].split(":")[0] in ("kernel", "depthwise_kernel")]
        if kernels:
            layers.append(_measure(inner.name, kind, kernels[0].numpy()))
    return SparsityReport(tuple(layers))


def m_by_n_violations(kernel: np.ndarray, m: int = 2, n: int = 4) -> int:
    """Groups of ``n`` consecutive input-channel weights holding more than ``n - m`` non-zeros (0 = pattern holds).

    Groups run along the input channels of the TFLite layout (Conv2D [out, h, w, in], Dense [out, in]), which is
    where XNNPACK and tfmot's ``sparsity_m_by_n`` put them.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim == 4:  # Keras Conv2D (h, w, in, out) -> (out*h*w, in)
        rows = np.transpose(kernel, (3, 0, 1, 2)).reshape(-1, kernel.shape[2])
    elif kernel.ndim == 2:  # Keras Dense (in, out) -> (out, in)
        rows = kernel.T
    else:
        raise ValueError(f"m-by-n check needs a rank-2 or rank-4 kernel; got shape {kernel.shape}")
    pad = (-rows.shape[1]) % n
    rows = np.pad(rows, ((0, 0), (0, pad)))
    groups = rows.reshape(rows.shape[0], -1, n)
    return int(np.count_nonzero(np.count_nonzero(groups, axis=-1) > n - m))


def _fbu():
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils


_NUMPY_TYPES = {0: np.float32, 1: np.float16, 3: np.uint8, 9: np.int8, 7: np.int16, 2: np.int32}


def tflite_sparsity(model_bytes: bytes) -> SparsityReport:
    """Zero fraction of the weight tensor of every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV.

    Quantised weights count as zero where they equal their zero point; float16 weights feeding a DEQUANTIZE are
    followed back to their buffer.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    fbu = _fbu()
    model = fbu.read_model_from_bytearray(bytearray(model_bytes))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    layers = []
    for sg in model.subgraphs:
        producer = {}
        for op in sg.operators:
            for out in op.outputs:
                producer[out] = op
        for op in sg.operators:
            code = model.operatorCodes[op.opcodeIndex]
            opname = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "")
            if opname not in TFLITE_WEIGHT_OPS:
                continue
            index = op.inputs[TFLITE_WEIGHT_OPS[opname]]
            tensor = sg.tensors[index]
            data = model.buffers[tensor.buffer].data
            if data is None and index in producer:  # float16 weights: DEQUANTIZE(const)
                source = producer[index]
                src_code = model.operatorCodes[source.opcodeIndex]
                if names.get(max(src_code.builtinCode, src_code.deprecatedBuiltinCode)) == "DEQUANTIZE":
                    tensor = sg.tensors[source.inputs[0]]
                    data = model.buffers[tensor.buffer].data
            if data is None or tensor.type not in _NUMPY_TYPES:
                continue
            values = np.frombuffer(bytes(bytearray(data)), dtype=_NUMPY_TYPES[tensor.type])
            zero = 0.0
            q = tensor.quantization
            if q is not None and q.zeroPoint is not None and len(q.zeroPoint) == 1:
                zero = float(q.zeroPoint[0])
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
            layers.append(_measure(name, opname, values, zero))
    return SparsityReport(tuple(layers))
