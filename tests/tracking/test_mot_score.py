"""The tracker scored with motmetrics (IoU 0.5) on two MOT15 sequences, public detections from the zoo,
ground truth from the motmetrics wheel; the bar is SORT's result on the same files (zoo README)."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

# motmetrics 1.4.0 calls numpy.asfarray, which numpy 2 removed: a shim for this test only (never in edge/)
if not hasattr(numpy, "asfarray"):
    numpy.asfarray = lambda a, dtype=float: numpy.asarray(a, dtype=dtype)
mm = pytest.importorskip("motmetrics", reason="pip install motmetrics (the dev extra)")

from .helpers import run_cli  # noqa: E402

SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
# SORT on the same detections, both sequences together (zoo README)
SORT = {"mota": 0.696, "idf1": 0.705, "num_switches": 16}


def _score(zoo, out, *options):
    data = Path(mm.__file__).parent / "data"
    accs = []
    for seq in SEQUENCES:
        tracks = out / f"{seq}.txt"
        # the tracker's defaults (ByteTrack's published settings + cascade + recovery): nothing tuned on these
        proc = run_cli("track", "--detections", str(zoo / "tracking" / f"{seq}-det.txt"), "--out", str(tracks),
                       *options)
        assert proc.returncode == 0, proc.stderr
        gt = mm.io.loadtxt(str(data / seq / "gt.txt"), fmt="mot15-2D", min_confidence=1)
        ts = mm.io.loadtxt(str(tracks), fmt="mot15-2D")
        accs.append(mm.utils.compare_to_groundtruth(gt, ts, "iou", distth=0.5))
    summary = mm.metrics.create().compute_many(
        accs, names=list(SEQUENCES), metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses"],
        generate_overall=True)
    print(" ".join(options) or "defaults", summary.to_string(), sep="\n")
    return summary


@pytest.fixture(scope="module")
def scores(zoo, tmp_path_factory):
    return _score(zoo, tmp_path_factory.mktemp("mot"))


@pytest.fixture(scope="module")
def interpolated(zoo, tmp_path_factory):
    # ByteTrack's published offline post-processing (its tools/interpolation.py, N = 20), not the default
    return _score(zoo, tmp_path_factory.mktemp("mot-dti"), "--interpolate", "20")


@pytest.fixture(scope="module")
def detection_boxes(zoo, tmp_path_factory):
    return _score(zoo, tmp_path_factory.mktemp("mot-det"), "--boxes", "detection")


def test_interpolated_beats_sort_on_all_three(interpolated, scores):
    """The issue's goal, with ByteTrack's published protocol (filtered track boxes, the default, and its gap
    interpolation N = 20): MOTA and IDF1 higher than SORT's, fewer ID switches (70.0 % / 77.9 % / 13 against
    69.6 % / 70.5 % / 16, docs/tracking.md). The gaps filled are misses recovered and change no id."""
    overall, plain = interpolated.loc["OVERALL"], scores.loc["OVERALL"]
    assert overall["mota"] > SORT["mota"], overall
    assert overall["idf1"] > SORT["idf1"], overall
    assert overall["num_switches"] < SORT["num_switches"], overall
    assert overall["num_misses"] < plain["num_misses"] and overall["mota"] > plain["mota"], (overall, plain)
    assert overall["num_switches"] == plain["num_switches"], (overall, plain)


def test_online_defaults_against_sort(scores):
    """Online (no interpolation), the command's defaults: IDF1 well above SORT's and fewer switches (76.9 %,
    13); MOTA below it (67.5 % vs 69.6 %: the filtered box lags the detection by a few pixels, and at IoU 0.5
    some matches are lost), docs/tracking.md."""
    overall = scores.loc["OVERALL"]
    assert overall["idf1"] > SORT["idf1"] + 0.05, overall
    assert overall["num_switches"] < SORT["num_switches"], overall
    assert overall["mota"] > SORT["mota"] - 0.03, overall


def test_detection_boxes_trade_switches_for_mota(scores, detection_boxes):
    """``--boxes detection`` writes the detector's own boxes: the same tracks, so the same IDF1 within a
    point, more MOTA (69.2 %) and more switches counted (17): the ids are the same, only the boxes written
    differ, and at IoU 0.5 motmetrics pairs some ground truth with a different track's raw box."""
    track, det = scores.loc["OVERALL"], detection_boxes.loc["OVERALL"]
    assert det["mota"] > track["mota"], (det, track)
    assert abs(det["idf1"] - track["idf1"]) < 0.01, (det, track)
    assert det["num_switches"] > track["num_switches"], (det, track)


def test_each_sequence_is_tracked(scores):
    for seq in SEQUENCES:  # not carried by one sequence: each well above chance on its own
        assert scores.loc[seq, "mota"] > 0.55 and scores.loc[seq, "idf1"] > 0.7, scores.loc[seq]
