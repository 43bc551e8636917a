"""Options every training command shares (``python -m train detect`` and every task of train/tasks.py): the
distribution strategy, best epoch and early stop, transfer learning, progress. Kept TensorFlow-free."""

from __future__ import annotations

import argparse

STRATEGIES = ("auto", "default", "mirrored", "multiworker")  # train/distribute.py
PRECISIONS = ("auto", "float32", "mixed")  # train/task_fit.py::FitConfig.precision


def add_strategy_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", choices=STRATEGIES, default="auto",
                   help="tf.distribute strategy: auto (multi-worker with TF_CONFIG, mirrored on several GPUs, "
                        "else default), default, mirrored (all GPUs, or EDGEVISION_LOGICAL_CPUS CPU devices), "
                        "multiworker (needs TF_CONFIG); see docs/training.md")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto (mixed float16 on a GPU, float32 on a CPU), float32, or mixed (forced; slow on a CPU). "
                        "model.keras is float32 either way; --resume keeps the run's precision")


def add_epoch_options(p: argparse.ArgumentParser) -> None:
    """Options every training command shares: best epoch and early stop, transfer learning, progress."""
    p.add_argument("--patience", type=int, default=0,
                   help="stop after this many epochs without a better validation headline metric (mAP@0.5, top-1, "
                        "mIoU, OKS AP, PSNR); 0 = never. model.keras is always the best epoch's model")
    p.add_argument("--weights", help="initial weights: a keras.applications MobileNetV2 .h5 (a path, or its file "
                                     "name in ~/.keras/models; never downloaded), or a previous run folder / "
                                     "model.keras of ours (layers matched by name and shape)")
    p.add_argument("--freeze-epochs", type=int, default=0,
                   help="with --weights: train with the backbone frozen for this many epochs, then all of it")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="validate and save an exponential moving average of the weights, updated every step with "
                        "this decay (ramped up over the first steps; e.g. 0.98 for runs of ~1000 steps, 0.999 for "
                        "longer ones); 0 = off (train/ema.py)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal (the one line per "
                                                              "epoch stays)")
