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
