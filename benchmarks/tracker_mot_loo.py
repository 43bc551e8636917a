"""The tracker on the two MOT15 sequences of the zoo: its defaults, and leave-one-out over a small grid of
published options (choose by MOTA + IDF1 on one sequence, score the other), each without and with ByteTrack's
offline gap interpolation (``edge track --interpolate 20``). Needs motmetrics (dev extra).

    PYTHONPATH=. python benchmarks/tracker_mot_loo.py [--zoo ../shared/zoo] [--boxes track|detection]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import numpy

if not hasattr(numpy, "asfarray"):  # motmetrics 1.4.0 on numpy 2 (zoo README)
    numpy.asfarray = lambda a, dtype=float: numpy.asarray(a, dtype=dtype)
import motmetrics as mm  # noqa: E402

from edge.track_cli import BOX_CHOICES, interpolate_gaps, parse_settings, read_mot, track_mot, write_mot  # noqa: E402
from edge.tracker import TrackerConfig  # noqa: E402

SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
THRESHOLDS = {  # ByteTrack's published choices: the paper / MMTracking config, and the demo script
    "paper": "high_score=0.6,new_track_score=0.7,match_iou=0.1,fuse_score=true",
    "demo": "high_score=0.5,new_track_score=0.6,match_iou=0.2,fuse_score=true",
}
METRICS = ["mota", "idf1", "num_switches", "num_false_positives", "num_misses"]
INTERPOLATE = (0, 20)  # off, and ByteTrack's published N


def score(settings: str, zoo: Path, work: Path, boxes: str) -> dict:
    """{interpolate N: motmetrics summary (per sequence + OVERALL)} for one setting."""
    config = TrackerConfig.from_table(parse_settings(settings, "grid"), "grid")
    data = Path(mm.__file__).parent / "data"
    accs: dict = {n: [] for n in INTERPOLATE}
    for seq in SEQUENCES:
        rows = track_mot(read_mot(zoo / "tracking" / f"{seq}-det.txt"), config, boxes)
        gt = mm.io.loadtxt(str(data / seq / "gt.txt"), fmt="mot15-2D", min_confidence=1)
        for n in INTERPOLATE:
            out = work / f"{seq}-{n}.txt"
            write_mot(out, interpolate_gaps(rows, n) if n else rows)
            accs[n].append(mm.utils.compare_to_groundtruth(gt, mm.io.loadtxt(str(out), fmt="mot15-2D"), "iou",
                                                           distth=0.5))
    return {n: mm.metrics.create().compute_many(a, names=list(SEQUENCES), metrics=METRICS, generate_overall=True)
            for n, a in accs.items()}


def line(m) -> str:
    return (f"MOTA {100 * m['mota']:5.1f} %  IDF1 {100 * m['idf1']:5.1f} %  switches {int(m['num_switches']):3d}  "
            f"FP {int(m['num_false_positives']):3d}  FN {int(m['num_misses']):3d}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", type=Path, default=Path("../shared/zoo"))
    p.add_argument("--boxes", choices=BOX_CHOICES, default="track", help="box written per tracked detection")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        defaults = score("", args.zoo, work, args.boxes)
        for n in INTERPOLATE:
            for name in [*SEQUENCES, "OVERALL"]:
                print(f"defaults, interpolate {n:2d}  {name:15s} {line(defaults[n].loc[name])}")
        results = {}
        for th, cascade, recover, nsa, hits in itertools.product(THRESHOLDS, *[[False, True]] * 3, [2, 3]):
            key = f"{th} cascade={cascade} recover={recover} nsa={nsa} min_hits={hits}"
            results[key] = score(f"{THRESHOLDS[th]},cascade={cascade},recover={recover},nsa={nsa},min_hits={hits}"
                                 .replace("True", "true").replace("False", "false"), args.zoo, work, args.boxes)
        for n in INTERPOLATE:
            for pick, other in (SEQUENCES, SEQUENCES[::-1]):
                best = max(results, key=lambda k: results[k][n].loc[pick, "mota"] + results[k][n].loc[pick, "idf1"])
                print(f"interpolate {n:2d}: chosen on {pick} ({best}) -> {other}: {line(results[best][n].loc[other])}")


if __name__ == "__main__":
    main()
