"""Classification's registry entry (train/tasks.py): its options and training spec, metrics, the run's data for
export, its scorer through edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tasks import HostTask, Metric, TaskData, check_labels, read_bgr


def load(run) -> TaskData:
    from .data import read_dataset

    root = run.spec["data"]["root"]
    train, val = read_dataset(Path(root))
    check_labels(run, train.labels, root)
    items = lambda split: list(zip(split.images, (int(c) for c in split.class_ids)))  # noqa: E731
    return TaskData(items(train), items(val), lambda item: read_bgr(item[0]), run.spec["data"]["train"])


def score(engine, adapter, data: TaskData, items: list) -> dict:
    from edge.metrics_tasks import topk_accuracy

    n = len(engine.info.labels)
    scores = np.zeros((len(items), n), np.float32)
    for row, item in enumerate(items):
        result, _ = engine.run_frame(data.frame(item), adapter, {"top_k": n})
        scores[row, result.class_ids] = result.scores
    return {**topk_accuracy(scores, np.array([c for _, c in items]), ks=(1, 5)),
            "predictions": [int(c) for c in np.argmax(scores, axis=1)]}


def add_parser(sub, common):
    """``python -m train classify``: the task's own options; ``common`` adds the ones every task has."""
    c = sub.add_parser("classify", help="train an image classifier (folder-per-class data)")
    c.add_argument("--data", type=Path, help="ROOT with ROOT/train/<class>/ and ROOT/val/<class>/ image folders "
                                             "(default: the synthetic shapes set in data/synth-classify)")
    c.add_argument("--augment", choices=("none", "flip", "dihedral"), default=None,
                   help="label-preserving training views: flip = mirrored left-right; dihedral = also any quarter "
                        "turn, for objects with no upright pose (default: flip with --data; dihedral for the "
                        "synthetic shapes, drawn at random angles)")
    common(c, epochs=8, batch=32, size=96, lr=2e-3)
    return c


def trainer(args):
    """The parsed command line -> the training spec train/task_fit.py fits."""
    from ..synthetic_cache import cached_synthetic
    from ..task_cli import SYNTH_ROOT, synth_counts
    from .data import SYNTH_VERSION, generate_synthetic, read_dataset
    from .task import ClassifyConfig, ClassifyTask

    root = args.data
    if root is None:
        n_train, n_val = synth_counts(args, 1000, 200)
        settings = {"generator": "classify", "version": SYNTH_VERSION, "train": n_train, "val": n_val,
                    "size": args.input_size, "seed": args.seed}
        root = cached_synthetic(SYNTH_ROOT / "synth-classify", settings, lambda r: generate_synthetic(
            r, n_train, n_val, size=args.input_size, seed=args.seed), "the synthetic classification set")
    train, val = read_dataset(root)
    r = Path(root).resolve()
    info = {"format": "class_folders", "root": str(r), "train": str(r / "train"), "val": str(r / "val")}
    augment = args.augment or ("flip" if args.data is not None else "dihedral")
    cfg = ClassifyConfig(args.input_size, args.width, augment=augment)
    from ..inspect import summarise_classification

    print(summarise_classification(root, train, val).text(), flush=True)
    return ClassifyTask(train, val, cfg, args.batch, args.seed, info)


TASK = HostTask("classify", (Metric("top1", "top-1"), Metric("top5", "top-5", min_labels=5)),
                load, score, add_parser=add_parser, trainer=trainer)
