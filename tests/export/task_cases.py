"""The tiny per-task runs the export tests train: CLI arguments and what each task must produce."""

# task -> (train CLI arguments, roles in the metadata, metric keys through edge, JSON line key)
CASES = {
    "classify": (["--input-size", "32", "--batch", "8", "--synth-train", "24", "--synth-val", "6"],
                 ["scores"], {"top1", "top5"}, "classification"),
    "segment": (["--input-size", "64", "--batch", "4", "--synth-train", "12", "--synth-val", "4"],
                ["segmentation_logits"], {"miou", "pixel_accuracy"}, "segmentation"),
    "pose": (["--input-size", "64", "--batch", "4", "--synth-train", "12", "--synth-val", "4"],
             ["heatmaps", "offsets"], {"pck", "oks_ap", "oks_ap50", "oks_ap75"}, "poses"),
    "enhance": (["--input-width", "32", "--input-height", "24", "--batch", "4", "--synth-train", "10",
                 "--synth-val", "3"], ["curves"], {"psnr", "ssim", "psnr_in", "mean_in", "mean_out"}, "enhance"),
}

# task -> the optimisation mode its export goes through (tests/export/conftest.py::exported_task_runs), so that
# the real task models take every stage the six modes are made of: pruning then QAT (pqat), clustering alone on
# the segmentation model, the 2:4 pattern on the two-output pose model (prune24), clustering then
# cluster-preserving QAT (cqat) on the curves model. prune is pqat's first stage and QAT its second (with the
# sparsity-preserving scheme); every mode is also tested on a small model in tests/optimize/test_optimize.py, and
# prune on the trained detector in tests/optimize/test_cli_optimize.py. The QAT modes go on the smaller models:
# tracing a QAT fine-tune of the 177-layer segmentation model alone took 46 s, cqat there 86 s in all, against
# 14 s for cluster on it and 15 s for cqat on the curves model (2026-12-07).
OPTIMIZE = {"classify": "pqat", "segment": "cluster", "pose": "prune24", "enhance": "cqat"}


def exported_variants(task: str) -> list[tuple[str, str]]:
    """(variant, format) of every file exported_task_runs writes for ``task``, in export's order: the trained model
    to float32 and int8, then its mode (a QAT mode to int8 only)."""
    from export.optimize import QUANTIZED_MODES

    mode = OPTIMIZE[task]
    return [("", "float32"), ("", "int8")] + [(mode, f) for f in ("float32", "int8")
                                              if f == "int8" or mode not in QUANTIZED_MODES]
