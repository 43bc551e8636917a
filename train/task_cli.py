"""``python -m train pose|segment|enhance|classify``: the options of each task, and what runs them.

``add_task_parsers(subparsers)`` adds the four sub-commands to train/cli.py's parser; ``run_task(args)``
runs one. Without ``--data`` each task generates (once) and trains on its built-in synthetic set.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

TASKS = ("pose", "segment", "enhance", "classify")
SYNTH_ROOT = Path("data")


def _common(p: argparse.ArgumentParser, epochs: int, batch: int, size: int, lr: float) -> None:
    p.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/NAME")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--input-size", type=int, default=size, help="square model input, a multiple of 32")
    p.add_argument("--width", type=float, default=0.35, help="backbone width multiplier")
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--synth-train", type=int, default=None, help="synthetic training images (no --data)")
    p.add_argument("--synth-val", type=int, default=None, help="synthetic validation images (no --data)")


def add_task_parsers(sub) -> None:
    c = sub.add_parser("classify", help="train an image classifier (folder-per-class data)")
    c.add_argument("--data", type=Path, help="ROOT with ROOT/train/<class>/ and ROOT/val/<class>/ image folders "
                                             "(default: the synthetic shapes set in data/synth-classify)")
    _common(c, epochs=8, batch=32, size=96, lr=2e-3)
    for add in _EXTRA_PARSERS:
        add(sub)


_EXTRA_PARSERS: list = []


def _fit_config(args):
    from .task_fit import FitConfig

    return FitConfig(out=args.out, epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr,
                     resume=args.resume, seed=args.seed)


def _synth_counts(args, train: int, val: int) -> tuple[int, int]:
    return (args.synth_train or train), (args.synth_val or val)


def _classify(args):
    from .classify.data import generate_synthetic, read_dataset
    from .classify.task import ClassifyConfig, ClassifyTask

    root = args.data
    if root is None:
        root = SYNTH_ROOT / "synth-classify"
        if not (root / "val").is_dir():
            n_train, n_val = _synth_counts(args, 1000, 200)
            print(f"no --data given: generating the synthetic classification set in {root}", flush=True)
            generate_synthetic(root, n_train, n_val, size=args.input_size, seed=args.seed)
    train, val = read_dataset(root)
    info = {"format": "class_folders", "root": str(Path(root).resolve())}
    return ClassifyTask(train, val, ClassifyConfig(args.input_size, args.width), args.batch, args.seed, info)


_BUILDERS = {"classify": _classify}


def run_task(args) -> int:
    from .task_fit import fit

    spec = _BUILDERS[args.command](args)
    t0 = time.time()
    result = fit(spec, _fit_config(args))
    shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    print(f"run folder {args.out}: {shown}, {time.time() - t0:.0f} s")
    return 0
