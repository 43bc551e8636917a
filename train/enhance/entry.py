"""Enhancement's registry entry (train/tasks.py): metrics, the run's data for export (pairs, or low-light images
alone, or normal images darkened the way training darkened them), its scorer through edge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..tasks import HostTask, Metric, TaskData, read_bgr, rgb_to_bgr

_VAL_KEY = 9999  # the darkening key of validation items: one generator over the split, in order


@dataclass(frozen=True)
class EnhanceItem:
    low: Path  # a low-light image, or a normal image to darken with ``darken_key``
    high: Path | None = None
    darken_key: tuple | None = None  # the rng key of the synthetic darkening, None = ``low`` is already dark


def load(run) -> TaskData:
    from .data import read_split

    data = run.spec["data"]
    mode = data["format"]
    train, val = (read_split(Path(data[s]), mode) for s in ("train", "val"))
    seed = int(data.get("darken_seed", 0))
    if mode == "darken":  # the same synthetic pairs as train's validation (train.enhance.data.darkened_pairs)
        val_items = [EnhanceItem(p, p, (seed, _VAL_KEY)) for p in val.low]
        train_items = [EnhanceItem(p, None, (seed, 5000 + i)) for i, p in enumerate(train.low)]
    else:
        val_items = [EnhanceItem(lo, hi) for lo, hi in zip(val.low, val.high or [None] * len(val.low))]
        train_items = [EnhanceItem(p) for p in train.low]
    cache: dict = {}

    def frame(item: EnhanceItem) -> np.ndarray:
        if item.darken_key is None:
            return read_bgr(item.low)
        if item.darken_key[1] == _VAL_KEY:
            if not cache:
                from .data import darkened_pairs

                cache.update(zip(val.low, (low for low, _ in darkened_pairs(val.low, seed))))
            return rgb_to_bgr(cache[item.low])
        from ..image_io import read_rgb
        from .data import darken

        return rgb_to_bgr(darken(read_rgb(item.low), np.random.default_rng(list(item.darken_key))))

    return TaskData(train_items, val_items, frame, data["train"])


def score(engine, adapter, data: TaskData, items: list) -> dict:
    from edge.metrics_tasks import mean_brightness, psnr, ssim

    res: dict[str, list] = {"psnr": [], "ssim": [], "psnr_in": [], "mean_in": [], "mean_out": []}
    for item in items:
        low = data.frame(item)
        out, _ = engine.run_frame(low, adapter, {"enhance_below": None})
        res["mean_in"].append(mean_brightness(low))
        res["mean_out"].append(mean_brightness(out.image))
        if item.high is not None:
            high = read_bgr(item.high)
            res["psnr"].append(psnr(out.image, high))
            res["ssim"].append(ssim(out.image, high))
            res["psnr_in"].append(psnr(low, high))
    return {k: float(np.mean(v)) for k, v in res.items() if v}


def add_parser(sub, common):
    """``python -m train enhance``: the task's own options; ``common`` adds the ones every task has."""
    e = sub.add_parser("enhance", help="train a low-light enhancer (Zero-DCE++ style curves)")
    e.add_argument("--data", type=Path, help="folder with train/ and val/: low-light images (unpaired), LOL "
                                             "low/ + high/ (paired), or normal images (darken) (default: "
                                             "synthetic normal images in data/synth-enhance, darkened)")
    e.add_argument("--mode", choices=("auto", "unpaired", "paired", "darken"), default="auto",
                   help="auto: paired where low/ and high/ exist, else unpaired")
    e.add_argument("--input-width", type=int, default=160, help="reduced resolution the curves are estimated at")
    e.add_argument("--input-height", type=int, default=120)
    e.add_argument("--train-scale", type=int, default=2, help="training crops are this many times the input")
    common(e, epochs=10, batch=16, size=None, lr=3e-3)
    return e


def trainer(args):
    """The parsed command line -> the training spec train/task_fit.py fits."""
    from ..synthetic_cache import cached_synthetic
    from ..task_cli import SYNTH_ROOT, synth_counts
    from .data import generate_normal_images, read_split
    from .task import EnhanceConfig, EnhanceTask

    root, mode = args.data, args.mode
    if root is None:
        mode = "darken"
        n_train, n_val = synth_counts(args, 400, 40)
        width, height = args.input_width * args.train_scale, args.input_height * args.train_scale
        settings = {"generator": "enhance", "version": 1, "train": n_train, "val": n_val, "width": width,
                    "height": height, "seed": args.seed}
        root = cached_synthetic(SYNTH_ROOT / "synth-enhance", settings, lambda r: generate_normal_images(
            r, n_train, n_val, width, height, seed=args.seed), "normal images to darken")
    train, val = read_split(Path(root) / "train", mode), read_split(Path(root) / "val", mode)
    cfg = EnhanceConfig(width=args.input_width, height=args.input_height, scale=args.train_scale)
    r = Path(root).resolve()
    # darken_seed: the validation pairs are darkened with this seed, so export scores the same pairs
    info = {"format": train.mode, "root": str(r), "train": str(r / "train"), "val": str(r / "val"),
            "darken_seed": args.seed}
    return EnhanceTask(train, val, cfg, args.batch, args.seed, info)


# PSNR of the darkened input and the mean brightnesses are context (not better when higher): never a headline.
TASK = HostTask("enhance", (Metric("psnr", "PSNR dB", percent=False, unit="dB"), Metric("ssim", "SSIM"),
                            Metric("psnr_in", "input PSNR dB", percent=False, unit="dB", ranked=False, brief=False),
                            Metric("mean_in", "mean in", ranked=False, brief=False),
                            Metric("mean_out", "mean out", ranked=False, brief=False)),
                load, score, labelled=False, add_parser=add_parser, trainer=trainer)
