"""Zones and lines on synthetic tracks: enter/exit/dwell, directed crossings, normalised points, bad TOML."""

from __future__ import annotations

import pytest

from edge.errors import ConfigError
from edge.pipeline_config import load_config
from edge.zones import TrackedObject, ZoneCounter, crossing, inside_polygon, parse_lines, parse_zones

import numpy as np


def walker(tid, x, y, label="person"):
    return TrackedObject(tid, label, (x - 10, y - 40, x + 10, y))  # bottom centre = (x, y)


def run(counter, path_by_frame, size=(640, 480), fps=10.0):
    events, state = [], None
    for f, objects in enumerate(path_by_frame):
        alive = {o.track_id for o in objects} | {99}
        state, ev = counter.update(objects, alive, f / fps, size)
        events += ev
    return state, events


def test_zone_enter_dwell_exit_and_counts():
    zone = parse_zones([{"name": "door", "points": [[100, 100], [300, 100], [300, 300], [100, 300]], "dwell": 1.0}],
                       "t.toml")
    counter = ZoneCounter(zone, [])
    frames = [[walker(1, 50 + 10 * f, 200)] for f in range(40)]  # x: 50 .. 440; inside for x in 100..300
    state, events = run(counter, frames)
    kinds = [(e["type"], e["track_id"]) for e in events]
    assert kinds == [("enter", 1), ("dwell", 1), ("exit", 1)]
    assert events[1]["dwell_s"] >= 1.0 and 1.8 <= events[2]["dwell_s"] <= 2.1
    assert state["zones"]["door"] == {"inside": 0, "in": 1, "out": 1, "dwell_s": {}}


def test_inertia_stops_a_jittering_box_from_entering_and_exiting_on_alternate_frames():
    def walk():  # the bottom edge flickers across the zone's top border (y = 100) for 12 frames, then stays in
        return [[walker(1, 200, 98 if f % 2 else 103)] for f in range(12)] + [[walker(1, 200, 150)] for _ in range(5)]

    points = [[100, 100], [300, 100], [300, 300], [100, 300]]
    jumpy = ZoneCounter(parse_zones([{"name": "z", "points": points}], "t"), [])
    steady = ZoneCounter(parse_zones([{"name": "z", "points": points, "inertia": 3}], "t"), [])
    state_jumpy, events_jumpy = run(jumpy, walk())
    state_steady, events_steady = run(steady, walk())
    assert state_jumpy["zones"]["z"]["in"] == 7 and len(events_jumpy) == 13
    assert [e["type"] for e in events_steady] == ["enter"] and state_steady["zones"]["z"]["inside"] == 1
    assert events_steady[0]["time_s"] == 1.4  # the third frame in a row inside (frames 12, 13, 14)


def test_zone_per_class_and_lost_track_exits():
    zone = parse_zones([{"name": "z", "points": [[0, 0], [1, 0], [1, 1], [0, 1]], "units": "normalized",
                         "classes": ["person"]}], "t.toml")
    counter = ZoneCounter(zone, [])
    state, ev = counter.update([walker(1, 320, 240), walker(2, 320, 240, "car")], {1, 2}, 0.0, (640, 480))
    assert state["zones"]["z"]["inside"] == 1 and [e["track_id"] for e in ev] == [1]
    state, ev = counter.update([], {1}, 0.1, (640, 480))  # lost, still kept by the tracker: stays inside
    assert state["zones"]["z"]["inside"] == 1 and not ev
    state, ev = counter.update([], set(), 0.2, (640, 480))  # removed by the tracker: exits
    assert ev[0]["type"] == "exit" and ev[0]["reason"] == "lost" and state["zones"]["z"]["out"] == 1


def test_directed_line_counts_in_and_out_only_within_its_ends():
    line = parse_lines([{"name": "gate", "points": [[320, 100], [320, 400]]}], "t.toml")  # pointing down
    counter = ZoneCounter([], line)
    right_to_left = [[walker(1, 400 - 20 * f, 300)] for f in range(10)]  # walking down, right hand = -x
    left_to_right = [[walker(2, 240 + 20 * f, 300)] for f in range(10)]
    beyond_end = [[walker(3, 240 + 20 * f, 450)] for f in range(10)]  # crosses x=320 below the segment
    state, events = run(counter, right_to_left + left_to_right + beyond_end)
    assert [(e["track_id"], e["direction"]) for e in events] == [(1, "in"), (2, "out")]
    assert state["lines"]["gate"] == {"in": 1, "out": 1}


def test_crossing_and_polygon_helpers():
    assert crossing((0, 0), (10, 0), (5, -1), (5, 1)) == 1  # a->b east; +y (down) is its right
    assert crossing((0, 0), (10, 0), (5, 1), (5, -1)) == -1
    assert crossing((0, 0), (10, 0), (15, -1), (15, 1)) == 0
    assert crossing((0, 0), (10, 0), (5, -1), (5, 0)) == 1 and crossing((0, 0), (10, 0), (5, 0), (5, 1)) == 0
    concave = np.array([[0, 0], [10, 0], [10, 10], [5, 5], [0, 10]], float)
    assert inside_polygon([[2, 2], [5, 8], [8, 4]], concave).tolist() == [True, False, True]


def test_normalised_points_follow_the_frame_size():
    zone = parse_zones([{"name": "z", "points": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]], "units": "normalized"}], "t")
    counter = ZoneCounter(zone, [])
    assert counter.update([walker(1, 400, 100)], {1}, 0, (640, 480))[0]["zones"]["z"]["inside"] == 1
    counter = ZoneCounter(zone, [])
    assert counter.update([walker(1, 400, 100)], {1}, 0, (1280, 720))[0]["zones"]["z"]["inside"] == 0


@pytest.mark.parametrize("text, words", [
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [1, 1]]', "zone 'a': points has 2 point(s); expected at least 3"),
    ('[[zone]]\npoints = [[0, 0], [1, 0], [1, 1]]', "zone 1: name = '...' is required"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [2, 0], [1, 1]]\nunits = "normalized"',
     "zone 'a': point [2, 0] lies outside 0..1"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [1, 1], [2, 2]]', "zone 'a': the polygon has no area"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [9, 0], [9, 9]]\nunits = "inches"', "units = 'inches'"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [9, 0], [9, 9]]\ndwell = -2', "dwell must be a positive number"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [9, 0], [9, 9]]\nshape = "box"', "zone 1: unknown key(s) shape"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [9, 0], [9, 9]]\nclasses = []', "classes must be a non-empty list"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [9, 0], [9, "x"]]', "point [9, 'x'] is not two numbers"),
    ('[[line]]\nname = "l"\npoints = [[0, 0], [0, 0]]', "line 'l': the two points are the same"),
    ('[[line]]\nname = "l"\npoints = [[0, 0], [5, 5], [9, 9]]', "line 'l': points has 3 point(s); expected exactly 2"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [9, 0], [9, 9]]\n[[line]]\nname = "a"\npoints = [[0, 0], [5, 5]]',
     "line 1: name 'a' is used twice"),
    ('[[line]]\nname = "l"\npoints = [[0, 0], [5, 5]]\nanchor = "top"', "anchor = 'top'"),
    ('[[zone]]\nname = "a"\npoints = [[0, 0], [9, 0], [9, 9]]\ninertia = 0', "inertia must be a whole number of frames"),
    ('[tracker]\nmax_lost = 2.5', "[tracker]: max_lost must be an integer >= 0, got 2.5"),
    ('[tracker]\nmodel = 3', "[tracker]: model must name a [[model]]"),
    ('[tracker]\nspeed = 3', "[tracker]: unknown key(s) speed"),
    ("zone = 3", "zone = 3: expected a list of tables"),
])
def test_bad_toml_values_are_named_errors(tmp_path, text, words):
    path = tmp_path / "p.toml"
    path.write_text(text + '\n[[model]]\npath = "m.tflite"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and words in str(err.value), str(err.value)
