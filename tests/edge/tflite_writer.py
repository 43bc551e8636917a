"""A minimal TFLite flatbuffer writer for tests: constant-output models and models with a named custom op.

Only what the tests need of the TFLite schema (tensorflow/lite/schema/schema.fbs): Model (version 0,
operator_codes 1, subgraphs 2, buffers 4), OperatorCode (deprecated_builtin_code 0, custom_code 1,
version 2, builtin_code 3), SubGraph (tensors 0, inputs 1, outputs 2, operators 3, name 4), Tensor
(shape 0, type 1, buffer 2, name 3), Operator (opcode_index 0, inputs 1, outputs 2), Buffer (data 0).
"""

from __future__ import annotations

import flatbuffers
import numpy as np

ADD, CUSTOM = 0, 32
FLOAT32 = 0


def _ints(b: flatbuffers.Builder, values, kind: str = "int32") -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        (b.PrependInt32 if kind == "int32" else b.PrependUint32)(int(v))
    return b.EndVector()


def _offsets(b: flatbuffers.Builder, offsets) -> int:
    b.StartVector(4, len(offsets), 4)
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def build_model(input_shape, outputs: dict[str, np.ndarray], custom_op: str | None = None) -> bytes:
    """A float32 model with one input whose outputs are the given constants (each ``ADD(constant, 0)``);
    with ``custom_op`` one more operator of that custom code reads the input."""
    b = flatbuffers.Builder(1024)
    # buffers: 0 empty (the convention), then one per constant, then the zero
    consts = [np.ascontiguousarray(v, np.float32) for v in outputs.values()] + [np.zeros(1, np.float32)]
    buffer_offsets = []
    for data in [None, *consts]:
        if data is None:
            b.StartObject(1)
        else:
            raw = data.tobytes()
            b.StartVector(1, len(raw), 16)
            for byte in reversed(raw):
                b.PrependByte(byte)
            vec = b.EndVector()
            b.StartObject(1)
            b.PrependUOffsetTRelativeSlot(0, vec, 0)
        buffer_offsets.append(b.EndObject())

    tensors = []  # (name, shape, buffer)
    tensors.append(("input", list(input_shape), 0))
    names = list(outputs)
    for i, (name, value) in enumerate(outputs.items()):
        tensors.append((f"{name}_const", list(value.shape), 1 + i))
    zero_index = len(tensors)
    tensors.append(("zero", [1], len(consts)))
    out_indices = []
    for name, value in outputs.items():
        out_indices.append(len(tensors))
        tensors.append((name, list(value.shape), 0))
    custom_out = None
    if custom_op:
        custom_out = len(tensors)
        tensors.append(("custom_out", list(input_shape), 0))

    tensor_offsets = []
    for name, shape, buf in tensors:
        name_off = b.CreateString(name)
        shape_off = _ints(b, shape)
        b.StartObject(4)
        b.PrependUOffsetTRelativeSlot(0, shape_off, 0)
        b.PrependInt8Slot(1, FLOAT32, 0)
        b.PrependUint32Slot(2, buf, 0)
        b.PrependUOffsetTRelativeSlot(3, name_off, 0)
        tensor_offsets.append(b.EndObject())

    ops = [(0, [1 + i, zero_index], [out_indices[i]]) for i in range(len(names))]
    if custom_op:
        ops.append((1, [0], [custom_out]))
    op_offsets = []
    for opcode, ins, outs in ops:
        ins_off, outs_off = _ints(b, ins), _ints(b, outs)
        b.StartObject(3)
        b.PrependUint32Slot(0, opcode, 0)
        b.PrependUOffsetTRelativeSlot(1, ins_off, 0)
        b.PrependUOffsetTRelativeSlot(2, outs_off, 0)
        op_offsets.append(b.EndObject())

    code_offsets = []
    for code, custom in [(ADD, None), *([(CUSTOM, custom_op)] if custom_op else [])]:
        custom_off = b.CreateString(custom) if custom else None
        b.StartObject(4)
        b.PrependInt8Slot(0, code, 0)
        if custom_off is not None:
            b.PrependUOffsetTRelativeSlot(1, custom_off, 0)
        b.PrependInt32Slot(2, 1, 1)
        b.PrependInt32Slot(3, code, 0)
        code_offsets.append(b.EndObject())

    graph_outputs = out_indices + ([custom_out] if custom_out is not None else [])
    t_vec, op_vec = _offsets(b, tensor_offsets), _offsets(b, op_offsets)
    in_vec, out_vec = _ints(b, [0]), _ints(b, graph_outputs)
    sg_name = b.CreateString("main")
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, t_vec, 0)
    b.PrependUOffsetTRelativeSlot(1, in_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, out_vec, 0)
    b.PrependUOffsetTRelativeSlot(3, op_vec, 0)
    b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
    subgraph = b.EndObject()

    codes_vec, sg_vec, buf_vec = _offsets(b, code_offsets), _offsets(b, [subgraph]), _offsets(b, buffer_offsets)
    b.StartObject(5)
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(1, codes_vec, 0)
    b.PrependUOffsetTRelativeSlot(2, sg_vec, 0)
    b.PrependUOffsetTRelativeSlot(4, buf_vec, 0)
    model = b.EndObject()
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())
