"""The format table: one row per TFLite target, with its file suffix and converter settings.

Adding a target means adding a row here; ``convert.py`` applies a row without knowing its name.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import FormatError


@dataclass(frozen=True)
class ExportFormat:
    name: str
    suffix: str  # file name after "model"
    quantization: str  # the metadata "quantization" value (docs/contracts.md section 3)
    optimize: bool = False  # converter.optimizations = [Optimize.DEFAULT]
    calibrate: bool = False  # needs a representative dataset from the run's training data
    supported_ops: tuple[str, ...] = ()  # names in tf.lite.OpsSet; () keeps the converter default
    supported_types: tuple[str, ...] = ()  # tf dtype names for target_spec.supported_types
    input_type: str | None = None  # tf dtype name for inference_input_type; None = float32
    output_type: str | None = None  # tf dtype name for inference_output_type; None = float32
    # Per-tensor Dense weights keep FULLY_CONNECTED at an op version tflite-runtime 2.14 can load.
    per_tensor_dense: bool = False
    # Set the uint8 input's quantisation to the pixel grid so raw frames feed it (convert.pin_input_to_pixels).
    pixel_input: bool = False
    note: str = ""


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("float32", "_float32.tflite", "float32", note="reference; parity with Keras"),
        ExportFormat(
            "float16",
            "_float16.tflite",
            "float16",
            optimize=True,
            supported_types=("float16",),
            note="half-size weights, float compute on CPU; GPU delegates run it natively",
        ),
        ExportFormat(
            "dynamic",
            "_dynamic.tflite",
            "dynamic",
            optimize=True,
            note="int8 weights, float activations; no calibration (per-channel Dense: see --min-runtime)",
        ),
        ExportFormat(
            "int8",
            "_int8.tflite",
            "int8",
            optimize=True,
            calibrate=True,
            supported_ops=("TFLITE_BUILTINS_INT8",),
            input_type="uint8",
            output_type="int8",
            per_tensor_dense=True,
            pixel_input=True,
            note="full integer: uint8 input (raw pixels when mean=0, std=255), int8 output in 0..1",
        ),
        ExportFormat(
            "int8_int8io",
            "_int8_int8io.tflite",
            "int8",
            optimize=True,
            calibrate=True,
            supported_ops=("TFLITE_BUILTINS_INT8",),
            input_type="int8",
            output_type="int8",
            per_tensor_dense=True,
            note="full integer with int8 input and output (pixels - 128 when mean=0, std=255)",
        ),
        ExportFormat(
            "int8_uint8io",
            "_int8_uint8io.tflite",
            "int8",
            optimize=True,
            calibrate=True,
            supported_ops=("TFLITE_BUILTINS_INT8",),
            input_type="uint8",
            output_type="uint8",
            per_tensor_dense=True,
            pixel_input=True,
            note="full integer with uint8 input and output: what the Edge TPU compiler expects",
        ),
        ExportFormat(
            "int16x8",
            "_int16x8.tflite",
            "int16x8",
            optimize=True,
            calibrate=True,
            supported_ops=("EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",),
            note="int16 activations, int8 weights, float input/output: closer to float than int8, CPU only",
        ),
    )
}


def parse_formats(text: str) -> list[ExportFormat]:
    """``"float32,int8"`` -> rows of the table, in the order given, duplicates dropped."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise FormatError(f"no export format given; valid formats: {', '.join(FORMATS)}")
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise FormatError(f"unknown export format {', '.join(map(repr, unknown))}; valid formats: {', '.join(FORMATS)}")
    return [FORMATS[n] for n in dict.fromkeys(names)]
