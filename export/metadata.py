"""The ``edgevision`` metadata entry inside a .tflite (docs/contracts.md section 3): build, embed, read.

Output names come from the converted model's own signature, so the runtime finds each output by its
tensor name and never by size or order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from edge import __version__ as EDGEVISION_VERSION

from .errors import ExportError
from .run_folder import Run

METADATA_NAME = "edgevision"
PRODUCER = f"edgevision {EDGEVISION_VERSION}"


@dataclass(frozen=True)
class SignatureOutput:
    key: str  # the signature's output key (the Keras output name, e.g. "detections")
    tensor: str  # the tensor name in the converted model, e.g. "StatefulPartitionedCall:0"
    shape: tuple[int, ...]


def _flatbuffer_utils():
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, bytearray)) else str(value)


def signature_outputs(model_bytes: bytes) -> list[SignatureOutput]:
    """Outputs of the model's single signature with their exact tensor names and shapes."""
    model = _flatbuffer_utils().read_model_from_bytearray(bytearray(model_bytes))
    if not model.signatureDefs:
        raise ExportError("the converted model has no signature; cannot name its outputs")
    if len(model.signatureDefs) != 1:
        keys = [_text(s.signatureKey) for s in model.signatureDefs]
        raise ExportError(f"the converted model has {len(keys)} signatures {keys}; expected exactly one")
    sig = model.signatureDefs[0]
    tensors = model.subgraphs[sig.subgraphIndex].tensors
    result = []
    for out in sig.outputs:
        t = tensors[out.tensorIndex]
        result.append(SignatureOutput(_text(out.name), _text(t.name), tuple(int(d) for d in t.shape)))
    return result


def build_metadata(run: Run, quantization: str, model_bytes: bytes) -> dict:
    """The JSON object for the ``edgevision`` entry of one converted model of ``run``."""
    by_key = {o.key: o for o in signature_outputs(model_bytes)}
    outputs = []
    for declared in run.spec["outputs"]:
        name = declared.get("name")
        if name not in by_key:
            raise ExportError(
                f"{run.path / 'run.json'}: output {name!r} is not an output of the converted model; "
                f"its signature has {sorted(by_key)}"
            )
        sig = by_key[name]
        outputs.append({"name": sig.tensor, "role": declared.get("role", "raw_boxes_scores"), "shape": list(sig.shape)})
    return {
        "format": "edgevision-metadata",
        "version": 1,
        "task": run.task,
        "labels": run.labels,
        "input": run.input,
        "decode": run.spec["decode"],
        "outputs": outputs,
        "quantization": quantization,
        "run": {
            "name": run.name,
            "path": str(run.path),
            "created": run.spec.get("created", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")),
        },
        "producer": PRODUCER,
    }


def embed_metadata(model_bytes: bytes, metadata: dict, name: str = METADATA_NAME) -> bytes:
    """Return ``model_bytes`` with a Model.metadata entry ``name`` holding ``metadata`` as UTF-8 JSON.

    An existing entry of the same name is replaced, so embedding twice leaves one entry.
    """
    fbu = _flatbuffer_utils()
    from tensorflow.lite.python import schema_py_generated as schema

    model = fbu.read_model_from_bytearray(bytearray(model_bytes))
    payload = json.dumps(metadata, indent=None, sort_keys=False).encode("utf-8")
    entries = [m for m in (model.metadata or []) if _text(m.name) != name]
    buffer = schema.BufferT()
    buffer.data = bytearray(payload)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    entries.append(entry)
    model.metadata = entries
    return bytes(fbu.convert_object_to_bytearray(model))


def read_metadata(model_bytes: bytes, name: str = METADATA_NAME) -> dict | None:
    """The JSON of entry ``name``, or None when the model has none (host-side reader, for checks)."""
    model = _flatbuffer_utils().read_model_from_bytearray(bytearray(model_bytes))
    for entry in model.metadata or []:
        if _text(entry.name) == name:
            data = model.buffers[entry.buffer].data
            return json.loads(bytes(bytearray(data)).decode("utf-8"))
    return None
