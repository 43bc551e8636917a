"""Pose's registry entry (train/tasks.py): metrics, the run's data for export (top-down: one item per labelled
person, the frame is that person's crop), its scorer through edge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..tasks import HostTask, Metric, TaskData, rgb_to_bgr


@dataclass(frozen=True)
class PosePerson:
    image: Path
    person: Any  # train.pose.data.Person
    size: int  # crop side = model input


def load(run) -> TaskData:
    from ..image_io import read_rgb
    from .data import crop_person, read_coco_keypoints

    data = run.spec["data"]
    size = int(run.input["width"])
    train, val = (read_coco_keypoints(Path(data[s])) for s in ("train", "val"))
    people = lambda images, visible: [PosePerson(im.image, p, size) for im in images for p in im.people  # noqa: E731
                                      if not visible or (p.keypoints[:, 2] > 0).any()]

    def frame(item: PosePerson) -> np.ndarray:  # top-down: the person's crop is the model's whole frame
        return rgb_to_bgr(crop_person(read_rgb(item.image), item.person, item.size)[0])

    return TaskData(people(train, False), people(val, True), frame, data["train"])


def score(engine, adapter, data: TaskData, items: list) -> dict:
    from edge.metrics_tasks import PoseGroundTruth, oks_ap, pck

    from .data import crop_to_image, crop_transform

    gts, preds, ap_gt, ap_pred = [], [], [], []
    for item in items:
        poses, _ = engine.run_frame(data.frame(item), adapter, {})
        kp = poses.keypoints[0].astype(np.float64)
        kp[:, :2] = crop_to_image(kp[:, :2], crop_transform(item.person.box, item.size))
        gt = PoseGroundTruth(item.person.keypoints, item.person.area, item.person.box)
        gts.append(gt), preds.append(kp)
        ap_gt.append([gt]), ap_pred.append([(kp, float(kp[:, 2].mean()))])
    return {"pck": pck(gts, preds, 0.2, "torso").pck, **oks_ap(ap_gt, ap_pred).as_dict()}


def add_parser(sub, common):
    """``python -m train pose``: the task's own options; ``common`` adds the ones every task has."""
    p = sub.add_parser("pose", help="train a single-person keypoint model (COCO keypoints JSON)")
    p.add_argument("--data", type=Path, help="folder with train.json and val.json in COCO keypoints format, image "
                                             "paths relative to it (default: stick figures in data/synth-pose)")
    common(p, epochs=12, batch=32, size=128, lr=3e-3)
    return p


def trainer(args):
    """The parsed command line -> the training spec train/task_fit.py fits."""
    from ..synthetic_cache import cached_synthetic
    from ..task_cli import SYNTH_ROOT, synth_counts, refuse_ultralytics
    from .data import read_coco_keypoints
    from .synthetic import generate_synthetic
    from .task import PoseConfig, PoseTask

    root = args.data
    if root is None:
        n_train, n_val = synth_counts(args, 1000, 150)
        size = max(args.input_size, 128)
        settings = {"generator": "pose", "version": 1, "train": n_train, "val": n_val, "size": size,
                    "seed": args.seed}
        root = cached_synthetic(SYNTH_ROOT / "synth-pose", settings, lambda r: generate_synthetic(
            r, n_train, n_val, size=size, seed=args.seed), "the synthetic stick figures")
    refuse_ultralytics(root, "pose", "COCO keypoints JSON: ROOT/train.json and ROOT/val.json")
    train, val = read_coco_keypoints(Path(root) / "train.json"), read_coco_keypoints(Path(root) / "val.json")
    info = {"format": "coco_keypoints", "root": str(Path(root).resolve()),
            "train": str((Path(root) / "train.json").resolve()), "val": str((Path(root) / "val.json").resolve())}
    return PoseTask(train, val, PoseConfig(args.input_size, args.width), args.batch, args.seed, info)


TASK = HostTask("pose", (Metric("oks_ap", "OKS AP"), Metric("oks_ap50", "OKS AP50", brief=False),
                         Metric("oks_ap75", "OKS AP75", brief=False),
                         Metric("pck", "PCK@0.2")),
                load, score, add_parser=add_parser, trainer=trainer)
