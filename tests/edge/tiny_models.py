"""Tiny .tflite files built here without TensorFlow (LiteRT's flatbuffer schema): models whose outputs are
known exactly, for recognition and input-normalisation tests.

``mean_model(path, size, outputs)``: input [1, size, size, 3] float32; each output is the per-channel MEAN of
the (normalised) input, shaped ``[1, 3]`` (or ``[1, 1, 1, 3]`` with ``keep_dims``). A one-output model looks
like a classifier with 3 classes whose scores are the mean input value of each channel, so a run shows the
normalisation that was applied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mean_model(path: Path, size: int = 8, outputs: int = 1, keep_dims: bool = False,
               names: tuple[str, ...] = ()) -> Path:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    def tensor(shape, ttype, buffer, name):
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), ttype, buffer, name.encode()
        return t

    empty, axes = s.BufferT(), s.BufferT()
    axes.data = list(np.array([1, 2], np.int32).tobytes())
    out_shape = [1, 1, 1, 3] if keep_dims else [1, 3]
    tensors = [tensor([1, size, size, 3], s.TensorType.FLOAT32, 0, "image"),
               tensor([2], s.TensorType.INT32, 1, "axes")]
    ops = []
    for i in range(outputs):
        tensors.append(tensor(out_shape, s.TensorType.FLOAT32, 0, names[i] if i < len(names) else f"mean_{i}"))
        op = s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [len(tensors) - 1]
        op.builtinOptionsType = s.BuiltinOptions.ReducerOptions
        op.builtinOptions = s.ReducerOptionsT()
        op.builtinOptions.keepDims = keep_dims
        ops.append(op)
    code = s.OperatorCodeT()
    code.builtinCode = s.BuiltinOperator.MEAN
    code.deprecatedBuiltinCode = min(s.BuiltinOperator.MEAN, 127)
    code.version = 1
    sg = s.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, [0], list(range(2, 2 + outputs)), ops
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [sg], [empty, axes]
    model.description = b"edgevision test: per-channel mean"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = Path(path)
    path.write_bytes(bytes(builder.Output()))
    return path
