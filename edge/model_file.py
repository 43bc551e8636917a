"""Inspect a .tflite file without an interpreter: validate it, list its ops, tensors and metadata.

Reads the FlatBuffer directly (``edge.flatbuffer``), so it works the same whichever TFLite runtime is
installed and can explain a bad file before an interpreter crashes on it.

Schema slots used here (tensorflow/lite/schema/schema.fbs):
Model: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers, 6 metadata, 7 signature_defs.
OperatorCode: 0 deprecated_builtin_code (int8), 1 custom_code, 2 version, 3 builtin_code (int32).
SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators, 4 name.  Operator: 0 opcode_index, 1 inputs, 2 outputs.
Tensor: 0 shape, 1 type, 2 buffer, 3 name, 4 quantization (2 scale, 3 zero_point).
Buffer: 0 data, 1 offset, 2 size.  Metadata: 0 name, 1 buffer.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .errors import ModelError
from .flatbuffer import FlatBufferError, Table, file_identifier

TFLITE_IDENTIFIER = b"TFL3"
CUSTOM_OP = 32

TENSOR_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool", 7: "int16",
    8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64", 13: "resource",
    14: "variant", 15: "uint32", 16: "uint16", 17: "int4",
}

# Names of the builtin ops this project talks about; the rest come from the runtime's schema when present.
_KNOWN_BUILTINS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL", 19: "RELU",
    21: "RELU6", 22: "RESHAPE", 23: "RESIZE_BILINEAR", 25: "SOFTMAX", 32: "CUSTOM", 34: "PAD",
    39: "TRANSPOSE", 56: "ARG_MAX", 114: "QUANTIZE",
}


@dataclass(frozen=True)
class OpCode:
    builtin_code: int
    custom_code: str | None
    version: int

    @property
    def name(self) -> str:
        if self.builtin_code == CUSTOM_OP:
            return self.custom_code or "CUSTOM"
        return builtin_name(self.builtin_code)

    @property
    def is_custom(self) -> bool:
        return self.builtin_code == CUSTOM_OP


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()


@dataclass(frozen=True)
class Operator:
    opcode: OpCode
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass
class SubGraph:
    name: str
    tensors: list[TensorInfo]
    inputs: list[int]
    outputs: list[int]
    operators: list[Operator]

    def input_tensors(self) -> list[TensorInfo]:
        return [self.tensors[i] for i in self.inputs]

    def output_tensors(self) -> list[TensorInfo]:
        return [self.tensors[i] for i in self.outputs]


@dataclass
class ModelFile:
    path: Path
    data: bytes = field(repr=False)
    version: int
    description: str
    op_codes: list[OpCode]
    subgraphs: list[SubGraph]
    metadata: dict[str, bytes]
    flatbuffer_size: int  # bytes used by the FlatBuffer itself; anything after it is appended (a zip)

    @property
    def main(self) -> SubGraph:
        return self.subgraphs[0]

    def custom_ops(self) -> list[str]:
        return [op.name for op in self.op_codes if op.is_custom]

    @cached_property
    def associated_files(self) -> dict[str, bytes]:
        """Files zipped onto the end of the model by tflite-support (e.g. a label map); {} when none."""
        if b"PK\x05\x06" not in self.data[max(self.flatbuffer_size, len(self.data) - 65558):]:
            return {}  # no zip end-of-central-directory record after the model
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
                return {name: zf.read(name) for name in zf.namelist()}
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ModelError(f"{self.path}: the files appended after the model are not a readable zip ({exc})") from exc


def builtin_name(code: int) -> str:
    if code in _KNOWN_BUILTINS:
        return _KNOWN_BUILTINS[code]
    try:  # the full enum ships with ai-edge-litert; optional
        from ai_edge_litert.schema_py_generated import BuiltinOperator

        for name, value in vars(BuiltinOperator).items():
            if value == code and not name.startswith("_"):
                return name
    except ImportError:
        pass
    return f"BUILTIN_{code}"


def read_model_file(path: str | Path) -> ModelFile:
    """Read and validate ``path``; raise ModelError naming the file and what is wrong with it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory, expected a .tflite file") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file ({exc.strerror})") from None
    return parse_model(data, path)


def parse_model(data: bytes, path: str | Path = "<bytes>") -> ModelFile:
    path = Path(path)
    if len(data) < 16:
        raise ModelError(f"{path}: {len(data)} bytes is too short to be a TFLite model (empty or truncated file)")
    ident = file_identifier(data)
    if ident != TFLITE_IDENTIFIER:
        raise ModelError(
            f"{path}: not a TFLite model (file identifier {ident!r}, expected {TFLITE_IDENTIFIER!r}; "
            f"the file starts with {bytes(data[:4])!r})"
        )
    try:
        return _parse(data, path)
    except FlatBufferError as exc:
        raise ModelError(
            f"{path}: truncated or corrupt TFLite model ({len(data)} bytes; {exc})") from None


def _parse(data: bytes, path: Path) -> ModelFile:
    model = Table.root(data)
    op_codes = [
        OpCode(
            builtin_code=max(oc.scalar(0, "b", 0), oc.scalar(3, "i", 0)),
            custom_code=oc.string(1),
            version=oc.scalar(2, "i", 1),
        )
        for oc in model.tables(1)
    ]
    subgraphs = [_subgraph(sg, op_codes, path) for sg in model.tables(2)]
    if not subgraphs:
        raise ModelError(f"{path}: the model has no subgraphs")
    buffers = model.tables(4)
    end = _flatbuffer_end(data, buffers, path)
    metadata: dict[str, bytes] = {}
    for entry in model.tables(6):
        name, index = entry.string(0, ""), entry.scalar(1, "I", 0)
        if index >= len(buffers):
            raise ModelError(f"{path}: metadata {name!r} points at buffer {index} of {len(buffers)}")
        metadata[name] = _buffer_bytes(data, buffers[index])
    return ModelFile(
        path=path, data=data, version=model.scalar(0, "I", 0), description=model.string(3, "") or "",
        op_codes=op_codes, subgraphs=subgraphs, metadata=metadata, flatbuffer_size=end,
    )


def _subgraph(sg: Table, op_codes: list[OpCode], path: Path) -> SubGraph:
    tensors = []
    for i, t in enumerate(sg.tables(0)):
        q = t.table(4)
        tensors.append(
            TensorInfo(
                index=i, name=t.string(3, "") or "", shape=tuple(t.scalars(0, "i")),
                dtype=TENSOR_TYPES.get(t.scalar(1, "b", 0), f"type{t.scalar(1, 'b', 0)}"),
                scales=tuple(q.scalars(2, "f")) if q else (), zero_points=tuple(q.scalars(3, "q")) if q else (),
            )
        )
    operators = []
    for op in sg.tables(3):
        idx = op.scalar(0, "I", 0)
        if idx >= len(op_codes):
            raise ModelError(f"{path}: an operator uses opcode {idx} but the model declares {len(op_codes)}")
        operators.append(Operator(op_codes[idx], tuple(op.scalars(1, "i")), tuple(op.scalars(2, "i"))))
    inputs, outputs = sg.scalars(1, "i"), sg.scalars(2, "i")
    for i in inputs + outputs:
        if not 0 <= i < len(tensors):
            raise ModelError(f"{path}: subgraph input/output {i} is not one of its {len(tensors)} tensors")
    return SubGraph(sg.string(4, "") or "", tensors, inputs, outputs, operators)


def _buffer_bytes(data: bytes, buf: Table) -> bytes:
    if buf.has(1):  # large models keep buffers outside the FlatBuffer: offset/size from the file start
        off, size = buf.scalar(1, "Q", 0), buf.scalar(2, "Q", 0)
        if off + size > len(data):
            raise FlatBufferError(f"buffer at {off}+{size} lies outside the {len(data)}-byte file")
        return bytes(data[off : off + size])
    return buf.bytes_vector(0)


def _flatbuffer_end(data: bytes, buffers: list[Table], path: Path) -> int:
    """Check every buffer lies inside the file; return where the FlatBuffer part ends (approximately)."""
    import struct

    end = 0
    for buf in buffers:
        if buf.has(1):
            off, size = buf.scalar(1, "Q", 0), buf.scalar(2, "Q", 0)
            if off + size > len(data):
                raise FlatBufferError(f"buffer at {off}+{size} lies outside the {len(data)}-byte file")
            end = max(end, off + size)
            continue
        p = buf._deref(0)
        if p:
            n = struct.unpack_from("<I", data, p)[0] if p + 4 <= len(data) else -1
            if n < 0 or p + 4 + n > len(data):
                raise FlatBufferError(f"a weight buffer at byte {p} runs past the end of the {len(data)}-byte file")
            end = max(end, p + 4 + n)
    return end
