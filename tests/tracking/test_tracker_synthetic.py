"""The tracker on synthetic tracks: crossing objects, occlusion gaps, low-score recovery, classes, config errors."""

from __future__ import annotations

import numpy as np
import pytest

from edge.assignment import assign
from edge.errors import ConfigError
from edge.tracker import Tracker, TrackerConfig, TrackState


def box(cx, cy, w=40, h=80):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_two_objects_crossing_keep_their_ids():
    # A walks left->right, B right->left on the same row band, crossing at frame 25 (boxes overlap heavily there)
    tracker = Tracker()
    seen_a, seen_b = set(), set()
    for f in range(50):
        ax, bx = 100 + 8 * f, 500 - 8 * f
        boxes = [box(ax, 200), box(bx, 210)]
        ids = tracker.update(boxes, [0.9, 0.9], [0, 0])
        if f >= 1:
            seen_a.add(int(ids[0]))
            seen_b.add(int(ids[1]))
    assert len(seen_a) == 1 and len(seen_b) == 1 and seen_a != seen_b, (seen_a, seen_b)


def test_occlusion_gap_keeps_the_id():
    tracker = Tracker(TrackerConfig(max_lost=15))
    ids_seen = []
    for f in range(60):
        if 20 <= f < 30:  # hidden for 10 frames, moving on meanwhile
            ids = tracker.update(np.zeros((0, 4)), [], [])
            assert all(t.state is TrackState.LOST for t in tracker.tracks)
            continue
        ids = tracker.update([box(100 + 5 * f, 200)], [0.9], [0])
        ids_seen.append(int(ids[0]))
    assert set(ids_seen) == {1}


def test_gap_longer_than_max_lost_gives_a_new_id():
    tracker = Tracker(TrackerConfig(max_lost=5))
    first = [int(tracker.update([box(100 + 5 * f, 200)], [0.9], [0])[0]) for f in range(10)]
    for _ in range(8):
        tracker.update(np.zeros((0, 4)), [], [])
    assert not tracker.tracks
    later = [int(tracker.update([box(200 + 5 * f, 200)], [0.9], [0])[0]) for f in range(5)]
    assert set(first) == {1} and later[0] == -1 and later[-1] == 2  # tentative first, then a new id


def test_low_score_detections_keep_a_track_but_never_start_one():
    tracker = Tracker(TrackerConfig(high_score=0.5, low_score=0.1))
    for f in range(10):
        assert tracker.update([box(100 + 4 * f, 200)], [0.9], [0])[0] == 1
    for f in range(10, 20):  # partly hidden: the detector's score drops to 0.2
        assert tracker.update([box(100 + 4 * f, 200)], [0.2], [0])[0] == 1
    # a low-score detection far from every track starts nothing
    for f in range(5):
        ids = tracker.update([box(100 + 4 * (20 + f), 200), box(600, 400)], [0.9, 0.3], [0, 0])
        assert ids[0] == 1 and ids[1] == -1
    assert len(tracker.tracks) == 1


def test_low_score_alone_cannot_recover_with_a_plain_threshold_tracker():
    """The same scene with the low band switched off (low_score = high_score): the track is lost, so the
    previous test really exercises the second association."""
    tracker = Tracker(TrackerConfig(high_score=0.5, low_score=0.5))
    for f in range(10):
        tracker.update([box(100 + 4 * f, 200)], [0.9], [0])
    ids = tracker.update([box(140, 200)], [0.2], [0])
    assert ids[0] == -1 and tracker.tracks[0].state is TrackState.LOST


def _stops_while_hidden(config: TrackerConfig) -> list[int]:
    """Walks right 10 px a frame, is hidden 8 frames (and stops there), reappears where it was last seen."""
    tracker = Tracker(config)
    ids = [int(tracker.update([box(100 + 10 * f, 200)], [0.9], [0])[0]) for f in range(10)]
    for _ in range(8):
        tracker.update(np.zeros((0, 4)), [], [])
    return ids + [int(tracker.update([box(192 + f, 200)], [0.9], [0])[0]) for f in range(3)]


def test_recover_matches_a_lost_track_by_its_last_box_when_the_prediction_drifted():
    assert set(_stops_while_hidden(TrackerConfig())) == {1}  # recover on (default): the same id again
    without = _stops_while_hidden(TrackerConfig(recover=False))  # the prediction ran 80 px on: IoU 0
    assert without[:10] == [1] * 10 and without[10] == -1 and without[-1] == 2


def test_cascade_gives_the_track_seen_last_frame_the_detection():
    """A lost track whose frozen prediction sits on a tracked object's next box: without the cascade the
    one-shot matching may hand the box to the lost track; with it the tracked object keeps it."""
    def run(config):
        tracker = Tracker(config)
        for f in range(6):  # A parked at x=200; B walks towards it from the left
            tracker.update([box(200, 200), box(120 + 10 * f, 200)], [0.9, 0.9], [0, 0])
        # A hidden (lost, predicted in place); B arrives where A stood
        return [int(tracker.update([box(120 + 10 * f, 200)], [0.9], [0])[0]) for f in range(6, 9)]
    assert run(TrackerConfig()) == [2, 2, 2]
    assert run(TrackerConfig(cascade=False, recover=False)) == [2, 2, 1]  # B's box goes to A's lost track


def test_tentative_until_min_hits_and_a_one_frame_false_positive_leaves_no_id():
    tracker = Tracker(TrackerConfig(min_hits=3))
    tracker.update([box(100, 100)], [0.9], [0])  # frame 1: trusted at once
    ids = tracker.update([box(102, 100), box(400, 300)], [0.9, 0.9], [0, 0])
    assert ids.tolist() == [1, -1]
    ids = tracker.update([box(104, 100)], [0.9], [0])  # the false positive is gone: its tentative track dropped
    assert ids.tolist() == [1] and len(tracker.tracks) == 1
    for k in range(3):
        ids = tracker.update([box(106 + k, 100), box(300, 300)], [0.9, 0.9], [0, 0])
    assert ids.tolist() == [1, 2]


def test_per_class_matching_and_class_agnostic():
    boxes = [box(100, 100)]
    per_class = Tracker()
    per_class.update(boxes, [0.9], [0])
    assert per_class.update(boxes, [0.9], [3])[0] == -1  # same place, other class: not the same object
    agnostic = Tracker(TrackerConfig(per_class=False))
    agnostic.update(boxes, [0.9], [0])
    assert agnostic.update(boxes, [0.9], [3])[0] == 1 and agnostic.tracks[0].class_id == 0


def test_twenty_objects_in_a_grid_keep_twenty_ids():
    rng = np.random.default_rng(1)
    start = np.array([[80 + 120 * (i % 5), 80 + 150 * (i // 5)] for i in range(20)], float)
    vel = np.array([2.0, 1.0]) + rng.uniform(-0.3, 0.3, (20, 2))  # a drifting crowd: neighbours never meet
    tracker = Tracker()
    history = []
    for f in range(100):
        c = start + vel * f + rng.normal(0, 1.0, (20, 2))
        keep = rng.random(20) > 0.1  # each object missed on 10 % of the frames
        ids = tracker.update(np.array([box(x, y) for x, y in c])[keep], np.full(keep.sum(), 0.9), np.zeros(keep.sum()))
        row = np.full(20, -1)
        row[keep] = ids
        history.append(row)
    history = np.array(history)
    for obj in range(20):
        assert len(set(history[:, obj][history[:, obj] >= 0].tolist())) == 1, obj
    assert len(set(history[history >= 0].tolist())) == 20


def test_assignment_is_optimal_not_greedy():
    # greedy would take (0, 0) at cost 0.1 and leave row 1 to (1, 1) at 0.9: total 1.0; optimal is 0.2 + 0.3
    cost = np.array([[0.1, 0.2], [0.3, 0.9]])
    rows, cols = assign(cost, 1.0)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0)]
    rows, cols = assign(np.array([[0.1, 2.0], [2.0, 2.0]]), 1.0)  # over max_cost: never paired
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 0)]


@pytest.mark.parametrize("table, words", [
    ({"high_score": 1.5}, "high_score must be a number in 0..1"),
    ({"max_lost": -1}, "max_lost must be an integer >= 0"),
    ({"min_hits": 0}, "min_hits must be an integer >= 1"),
    ({"per_class": "yes"}, "per_class must be true or false"),
    ({"hi_score": 0.5}, "unknown key(s) hi_score"),
    ({"low_score": 0.7, "high_score": 0.5}, "low_score (0.7) must not exceed high_score (0.5)"),
    ({"new_track_score": 0.4}, "new_track_score (0.4) must be at least high_score"),
    ({"match_iou": "0.3"}, "match_iou must be a number in 0..1, got '0.3'"),
])
def test_bad_tracker_values_are_named(table, words):
    with pytest.raises(ConfigError) as err:
        TrackerConfig.from_table(table, "pipeline.toml: [tracker]")
    assert "pipeline.toml: [tracker]" in str(err.value) and words in str(err.value)
