"""Build tiny, real .tflite files without TensorFlow: outputs that are fixed tensors (plus 0 x the input mean,
so the interpreter really runs three ops on the frame), optionally with a zip appended as Ultralytics does.

Uses the TFLite schema's generated object API that ships with ai-edge-litert, and flatbuffers (its dependency).
"""

from __future__ import annotations

import io
import zipfile

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as s

_FLOAT32, _INT32 = 0, 2


def constant_model(input_shape: tuple[int, ...], outputs: dict[str, np.ndarray]) -> bytes:
    """A model with one float32 input of ``input_shape`` whose outputs are the given float32 arrays."""
    buffers = [s.BufferT()]
    tensors = []

    def tensor(name, shape, dtype=_FLOAT32, data: np.ndarray | None = None) -> int:
        t = s.TensorT()
        t.name, t.shape, t.type = name, list(shape), dtype
        t.buffer = 0
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            buffers.append(b)
            t.buffer = len(buffers) - 1
        tensors.append(t)
        return len(tensors) - 1

    codes = []
    for code in (s.BuiltinOperator.MEAN, s.BuiltinOperator.MUL, s.BuiltinOperator.ADD):
        oc = s.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
        codes.append(oc)

    def op(index: int, inputs, outs, options_type=0, options=None) -> s.OperatorT:
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = index, list(inputs), list(outs)
        if options is not None:
            o.builtinOptionsType, o.builtinOptions = options_type, options
        return o

    image = tensor("images", input_shape)
    axes = tensor("axes", [len(input_shape) - 1], _INT32, np.arange(1, len(input_shape), dtype=np.int32))
    mean = tensor("mean", [1])
    zero = tensor("zero", [1], data=np.zeros(1, np.float32))
    nothing = tensor("nothing", [1])
    reducer = s.ReducerOptionsT()
    reducer.keepDims = False
    ops = [op(0, [image, axes], [mean], s.BuiltinOptions.ReducerOptions, reducer),
           op(1, [mean, zero], [nothing], s.BuiltinOptions.MulOptions, s.MulOptionsT())]
    out_ids = []
    for name, value in outputs.items():
        value = np.asarray(value, np.float32)
        const = tensor(f"{name}_const", value.shape, data=value)
        out_ids.append(tensor(name, value.shape))
        ops.append(op(2, [const, nothing], [out_ids[-1]], s.BuiltinOptions.AddOptions, s.AddOptionsT()))
    sg = s.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = tensors, [image], out_ids, ops, "main"
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, codes, [sg], buffers
    model.description = "edgevision test model"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def with_zip(model: bytes, files: dict[str, str | bytes]) -> bytes:
    """``model`` with a zip of ``files`` appended, as Ultralytics appends its metadata."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return model + buf.getvalue()
