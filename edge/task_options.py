"""Command-line options of the pose, segmentation, enhancement, classification and MediaPipe detection adapters.

``add_task_arguments(parser)`` adds them to a command; ``task_options(args)`` turns the parsed values into
the options dict the adapters read (only the options given, so adapter defaults apply otherwise).
"""

from __future__ import annotations

import argparse

from .errors import ConfigError

# The adapter option keys, for config files and ``--model PATH,key=value`` lists that carry them per model.
TASK_OPTION_KEYS = ("keypoint_score", "pose_score", "max_poses", "seg_view", "enhance_below", "label_offset", "top_k",
                    "anchors")


def add_task_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("task options (pose, segment, enhance, classify)")
    g.add_argument("--keypoint-score", type=float, default=None, metavar="S",
                   help="pose: draw keypoints scoring at least S (default 0.2)")
    g.add_argument("--pose-score", type=float, default=None, metavar="S",
                   help="pose, multi-person decoders: keep poses scoring at least S (default 0.15)")
    g.add_argument("--max-poses", type=int, default=None, metavar="N",
                   help="pose, multi-person decoders: at most N poses per frame (default 10)")
    g.add_argument("--seg-view", choices=("overlay", "side-by-side"), default=None,
                   help="segment: how annotated frames show the class map (default overlay)")
    g.add_argument("--enhance-below", type=float, default=None, metavar="L",
                   help="enhance: only enhance frames whose mean luminance (0..1) is below L, e.g. 0.25 "
                        "(default: enhance every frame)")
    g.add_argument("--label-offset", type=int, default=None, metavar="N",
                   help="classify: output index of the label file's first line, e.g. 1 when a 1001-class "
                        "model's label file leaves out 'background' (default 0)")
    g.add_argument("--top-k", type=int, default=None, metavar="K", help="classify: classes to report (default 5)")
    g.add_argument("--anchors", default=None, metavar="NAME",
                   help="detect: the MediaPipe SSD anchor config to decode with, e.g. palm_192 (default: the one "
                        "recognised from input size and anchor count; see edge/tasks/mediapipe_ssd.py KNOWN)")


def task_options(args: argparse.Namespace) -> dict:
    opts = {key: getattr(args, key, None) for key in TASK_OPTION_KEYS}
    if opts["keypoint_score"] is not None and not 0.0 <= opts["keypoint_score"] <= 1.0:
        raise ConfigError(f"--keypoint-score must lie in 0..1, got {opts['keypoint_score']}")
    if opts["pose_score"] is not None and not 0.0 <= opts["pose_score"] <= 1.0:
        raise ConfigError(f"--pose-score must lie in 0..1, got {opts['pose_score']}")
    if opts["max_poses"] is not None and opts["max_poses"] < 1:
        raise ConfigError(f"--max-poses must be 1 or more, got {opts['max_poses']}")
    if opts["enhance_below"] is not None and not 0.0 <= opts["enhance_below"] <= 1.0:
        raise ConfigError(f"--enhance-below must be a mean luminance in 0..1, got {opts['enhance_below']}")
    if opts["label_offset"] is not None and opts["label_offset"] < 0:
        raise ConfigError(f"--label-offset must be 0 or more, got {opts['label_offset']}")
    if opts["top_k"] is not None and opts["top_k"] < 1:
        raise ConfigError(f"--top-k must be 1 or more, got {opts['top_k']}")
    return {k: v for k, v in opts.items() if v is not None}
