"""Export one run: convert each requested format, embed metadata, check parity, score through `edge`.

Writes ``<out>/model_<format>.tflite`` for each format and ``<out>/export.json`` with the figures.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import calibration, convert, metadata, parity, validation
from .formats import ExportFormat
from .run_folder import Run, load_run
from train.tasks import TaskData

from .task_data import task_data


@dataclass
class ExportOptions:
    formats: list[ExportFormat]
    calib_samples: int = 200
    out_dir: Path | None = None  # default: <run>/export
    threads: int = 1
    parity_images: int = 32
    evaluate: bool = True
    eval_images: int | None = None  # None: the whole validation split
    latency_runs: int = 50
    seed: int = 0
    optimize: list[str] = field(default_factory=list)  # export.optimize modes; each adds model_<mode>_<fmt>.tflite
    optimize_options: object = None  # export.optimize.OptimizeOptions; None = defaults
    targets: list[str] = field(default_factory=list)  # export.targets names; coverage per target in the report
    min_runtime: str | None = None  # e.g. "2.14": formats adjusted and every file's op versions verified


@dataclass
class FormatResult:
    format: str
    path: str
    size_bytes: int
    quantization: str
    input: dict  # dtype and quantisation (scale, zero_point) of the model input
    output: dict  # same for the (first) output, plus its tensor name
    parity_max_abs_diff: float
    parity_mean_abs_diff: float
    parity_tolerance: float | None
    parity_ok: bool
    seconds: float
    float_ops: list[str] = field(default_factory=list)  # ops computing in float32 (only reported for int8)
    variant: str = ""  # optimisation mode ("" = the trained model as is)
    coverage: dict = field(default_factory=dict)  # target -> op coverage summary
    metrics: dict = field(default_factory=dict)  # the task's metrics through edge (its registry entry's scorer)
    latency_p50_ms: float | None = None
    eval_images: int | None = None
    predictions: list = field(default_factory=list)  # per validation item where the task has one (classify)


@dataclass
class ExportReport:
    run: str
    run_path: str
    out_dir: str
    threads: int
    task: str = "detect"
    calibration: dict = field(default_factory=dict)
    optimize: dict = field(default_factory=dict)  # mode -> per-layer sparsity table and notes
    parity_images: int = 0
    num_labels: int = 0  # top-5 is shown only above 5 classes
    formats: list[FormatResult] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def _tensor_summary(model_bytes: bytes, output_key: str) -> tuple[dict, dict]:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=model_bytes).get_signature_runner()
    (_, inp), = runner.get_input_details().items()
    out = runner.get_output_details()[output_key]

    def describe(d: dict) -> dict:
        scale, zero = d["quantization"]
        return {"name": d["name"], "dtype": np.dtype(d["dtype"]).name, "scale": float(scale), "zero_point": int(zero)}

    described = describe(inp)
    if described["dtype"] == "uint8" and described["scale"]:
        from edge.preprocess import is_identity_quantization

        spec = metadata.read_metadata(model_bytes)["input"]
        described["raw_pixels"] = is_identity_quantization(spec["mean"], spec["std"], described["scale"],
                                                           described["zero_point"])

    return described, describe(out)


def calibration_set(run: Run, count: int, seed: int, data: TaskData | None = None) -> tuple[np.ndarray, dict]:
    """Preprocessed training frames (as the runtime sees them) for the representative dataset, and a note."""
    data = data or task_data(run)
    chosen = calibration.pick(data.train, count, seed)
    samples = frames_to_samples([data.frame(item) for item in chosen], run)
    note = {"requested": count, "used": len(chosen), "train_images": len(data.train), "seed": seed,
            "source": data.source}
    return samples, note


def frames_to_samples(frames: list, run: Run) -> np.ndarray:
    return np.stack([calibration.preprocess(f, run.input) for f in frames])


def export_run(run_dir: str | Path, options: ExportOptions, log=print) -> ExportReport:
    run = load_run(run_dir)
    out_dir = Path(options.out_dir) if options.out_dir else run.export_dir
    model = convert.load_keras_model(run.model_path)
    report = ExportReport(run.name, str(run.path), str(out_dir.resolve()), options.threads, run.task)
    report.num_labels = len(run.labels)

    from .ptq import check_calibration_count

    formats = list(options.formats)
    if options.min_runtime:
        from .min_runtime import for_runtime

        formats = [for_runtime(f, options.min_runtime) for f in formats]
    representative = None
    samples = None
    data = task_data(run)
    output_keys = [o["name"] for o in run.spec["outputs"]]
    if any(f.calibrate for f in formats) or options.optimize:
        check_calibration_count(options.calib_samples, len(data.train), data.source)
        samples, report.calibration = calibration_set(run, options.calib_samples, options.seed, data)
        if report.calibration["used"] < options.calib_samples:
            log(f"note: {options.calib_samples} calibration samples requested, the training split has "
                f"{report.calibration['used']}; calibrating on all of them")
        representative = convert.representative_from(samples)

    val = data.val
    if not val:
        from .errors import CalibrationError

        raise CalibrationError(f"{run.path / 'run.json'}: the run's validation split is empty; nothing to check")
    parity_samples = frames_to_samples([data.frame(item) for item in val[: options.parity_images]], run)
    report.parity_images = len(parity_samples)
    out_dir.mkdir(parents=True, exist_ok=True)

    variants = [("", model, formats)]
    if options.optimize:
        from .optimize import QUANTIZED_MODES, OptimizeOptions, optimize

        for mode in options.optimize:
            done = optimize(mode, model, samples, options.optimize_options or OptimizeOptions())
            report.optimize[mode] = {"layers": [vars(layer) | {"sparsity": layer.sparsity} for layer in done.report.layers],
                                     "sparsity": done.report.overall, "notes": done.notes}
            log(f"{mode}: weight sparsity {done.report.overall:.3f}\n{done.report.table()}")
            mode_formats = [f for f in formats if f.calibrate] if mode in QUANTIZED_MODES else formats
            variants.append((mode, done.model, mode_formats))

    for variant, variant_model, variant_formats in variants:
        for fmt in variant_formats:
            start = time.perf_counter()
            raw = convert.convert(variant_model, fmt, representative if fmt.calibrate else None, run.input)
            model_bytes = metadata.embed_metadata(raw, metadata.build_metadata(run, fmt.quantization, raw))
            path = out_dir / f"model{'_' + variant if variant else ''}{fmt.suffix}"
            if options.min_runtime:
                from .min_runtime import verify

                verify(model_bytes, options.min_runtime, str(path))
            path.write_bytes(model_bytes)
            tolerance = parity.FLOAT32_TOLERANCE if fmt.name == "float32" and not variant else None
            par = parity.compare(model, model_bytes, parity_samples, output_keys, tolerance, options.threads)
            inp, out = _tensor_summary(model_bytes, output_keys[0])
            result = FormatResult(
                format=fmt.name, path=str(path), size_bytes=len(model_bytes), quantization=fmt.quantization,
                input=inp, output=out, parity_max_abs_diff=par.max_abs_diff, parity_mean_abs_diff=par.mean_abs_diff,
                parity_tolerance=tolerance, parity_ok=par.ok, seconds=0.0, variant=variant,
            )
            if fmt.input_type:  # an integer model: every op should be integer
                result.float_ops = convert.float_ops(model_bytes)
                if result.float_ops:
                    log(f"warning: {fmt.name} model still computes in float32 in: {', '.join(result.float_ops)}")
            if options.evaluate:
                from .evaluate import evaluate_task

                scores = evaluate_task(path, data, val[: options.eval_images] if options.eval_images else val,
                                       threads=options.threads, latency_runs=options.latency_runs)
                result.metrics = scores.metrics
                result.latency_p50_ms, result.eval_images = scores.latency_p50_ms, scores.images
                result.predictions = list(scores.predictions or [])
            if options.targets:
                from .targets import TARGET_FORMATS, coverage

                for target in options.targets:
                    if fmt.name in TARGET_FORMATS[target]:
                        result.coverage[target] = coverage(target, model_bytes, str(path)).summary()
                        log(result.coverage[target])
                if "edgetpu" in options.targets and fmt.name in TARGET_FORMATS["edgetpu"]:
                    from .targets import compile_edgetpu

                    compiled, message = compile_edgetpu(path, out_dir)
                    result.coverage["edgetpu_compiler"] = str(compiled) if compiled else message
                    log(message)
            result.seconds = round(time.perf_counter() - start, 2)
            report.formats.append(result)
            log(format_line(result, report.num_labels, report.task))

    (out_dir / "export.json").write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    if options.evaluate and not options.eval_images:
        _record_validation(run, report, log)
    return report


def _record_validation(run: Run, report: ExportReport, log) -> None:
    """The float32 file scored on the whole split is the run's validation figure (export/validation.py):
    say whether it is the one run.json holds for this model.keras, and write it there."""
    f32 = next((r for r in report.formats if r.format == "float32" and not r.variant and r.metrics), None)
    if f32 is None:
        return
    record = validation.validation_record(run.path, report.task, f32)
    before = validation.recorded_validation(run.path)
    if before is not None and before.get("metrics") != record["metrics"]:
        log(f"warning: float32 scores {validation.describe(record, report.num_labels)}; run.json said "
            f"{validation.describe(before, report.num_labels)} for the same model.keras; run.json now holds "
            f"this figure")
    elif before is not None:
        log(f"float32 = the run's validation figure in run.json ({before['metric']} {before['value']:.4f})")
    try:
        validation.write_validation(run.path, record)
    except OSError as exc:  # e.g. a run folder the user may read but not write: the export itself stands
        log(f"warning: cannot record the validation figure in {run.path / 'run.json'} ({exc.strerror or exc})")


def validate_run(run_dir: str | Path, threads: int = 1, log=print) -> dict:
    """The end of ``python -m train``: convert model.keras to float32 TFLite (RUN/export/, as export does),
    score the whole validation split through edge, write run.json's ``validation`` and return it."""
    from .formats import parse_formats

    options = ExportOptions(formats=parse_formats("float32"), threads=threads, parity_images=8, latency_runs=5)
    report = export_run(run_dir, options, log=lambda *_: None)
    (result,) = report.formats
    if not result.parity_ok:
        log(f"warning: the float32 file differs from the Keras model by {result.parity_max_abs_diff:.2e} "
            f"(tolerance {result.parity_tolerance:g}); the figure is the file's")
    return validation.recorded_validation(run_dir) or validation.validation_record(run_dir, report.task, result)


def _metric(m, value: float | None) -> str:
    if value is None:
        return f"{m.key} n/a"
    return f"{m.key} {100 * value:6.2f}" if m.percent else f"{m.key} {value:.2f}"


def _brief(task: str, r: FormatResult, num_labels: int = 0) -> list:
    """The metrics a line shows (the task's registry entry, train/tasks.py): its brief ones, else (an unpaired
    enhancement run has no reference images, so no PSNR) whatever was measured; top-5 only above 5 classes."""
    from train import tasks

    return tasks.get(task).brief(r.metrics, num_labels)


def _delta(m, d: float) -> str:
    return f"{m.key} {m.difference(d):+.2f} {m.difference_unit}"


def format_line(r: FormatResult, num_labels: int = 0, task: str = "detect") -> str:
    lat = "n/a" if r.latency_p50_ms is None else f"{r.latency_p50_ms:.2f} ms"
    gate = "" if r.parity_tolerance is None else (" ok" if r.parity_ok else f" EXCEEDS {r.parity_tolerance:g}")
    name = f"{r.variant}/{r.format}" if r.variant else r.format
    shown = "  ".join(_metric(m, r.metrics.get(m.key)) for m in _brief(task, r, num_labels)) or "not scored"
    return (f"{name:8s} {r.size_bytes / 1024:9.1f} KiB  {shown}  p50 {lat}  parity max|diff| "
            f"{r.parity_max_abs_diff:.2e}{gate}  in {r.input['dtype']} out {r.output['dtype']}")


def summary(report: ExportReport) -> str:
    lines = [f"export of run {report.run} ({report.task}) -> {report.out_dir} (threads {report.threads})"]
    lines += [format_line(r, report.num_labels, report.task) for r in report.formats]
    by = {r.format: r for r in report.formats if not r.variant}
    if "float32" in by and "int8" in by and by["float32"].metrics and by["int8"].metrics:
        f32, i8 = by["float32"], by["int8"]
        diffs = [_delta(m, i8.metrics[m.key] - f32.metrics[m.key]) for m in _brief(report.task, f32, report.num_labels)
                 if m.key in i8.metrics]
        if f32.predictions and len(f32.predictions) == len(i8.predictions):
            changed = sum(a != b for a, b in zip(f32.predictions, i8.predictions))
            diffs.append(f"{changed} of {len(f32.predictions)} predictions changed")
        if diffs:
            lines.append("int8 - float32: " + ", ".join(diffs))
    return "\n".join(lines)
