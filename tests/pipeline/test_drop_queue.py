"""The live pipeline's queues drop the oldest frame under load; what a dropped frame carried for the JSON
lines (a reconnection gap) moves to the frame that is kept, so the record of an outage is never lost."""

from __future__ import annotations

import numpy as np

from edge.pipeline import Captured, DropQueue, _carry_gap


def _item(gap=None) -> Captured:
    return Captured(np.zeros((2, 2, 3), np.uint8), 0.0, 0.0, 0.0, gap)


def test_a_dropped_frame_hands_its_gap_to_the_next_one():
    q = DropQueue(1)
    q.put(_item({"seconds": 5.8, "attempts": 4}), drop_oldest=True, carry=_carry_gap)
    kept = _item()
    assert q.put(kept, drop_oldest=True, carry=_carry_gap) == 1
    assert q.get() is kept and kept.gap == {"seconds": 5.8, "attempts": 4}


def test_two_gaps_are_both_kept_and_frames_without_gaps_stay_clean():
    q = DropQueue(1)
    q.put(_item({"seconds": 1.0}), drop_oldest=True, carry=_carry_gap)
    newer = _item({"seconds": 2.0})
    q.put(newer, drop_oldest=True, carry=_carry_gap)
    assert newer.gap == {"seconds": 2.0, "also": {"seconds": 1.0}}
    q.get()
    plain = [_item() for _ in range(3)]
    for p in plain:
        q.put(p, drop_oldest=True, carry=_carry_gap)
    assert all(p.gap is None for p in plain)


def test_without_carry_the_queue_behaves_as_before():
    q = DropQueue(2)
    for i in range(5):
        q.put(i, drop_oldest=True)
    assert [q.get(), q.get()] == [3, 4]
