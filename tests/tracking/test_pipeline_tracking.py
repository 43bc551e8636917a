"""The tracker inside `edge run`: --track, track ids carried to a pose on each person box, named errors,
and the events:// sink on synthetic frames (clips, quota) without a model."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge.errors import SinkError
from edge.sinks.events import open_event_sink
from edge.results import FrameResult
from edge.sinks import SinkItem, open_sink

from .helpers import run_cli

MOVENET = "models/movenet_single_pose_lightning_ptq.tflite"


@pytest.mark.zoo
def test_pose_on_a_tracked_person_keeps_the_persons_id(zoo, ssd, clip, tmp_path):
    out = tmp_path / "frames.jsonl"
    proc = run_cli("run", "--model", f"{ssd},name=detect", "--model", f"{zoo / MOVENET},on=detect:person,task=pose,name=pose",
                   "--source", f"file://{clip}", "--max-frames", "100", "--track", "--sink", f"jsonl://{out}",
                   "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    paired = 0
    for r in records:
        people = {tuple(d["box"]): d["track_id"] for d in r["detections"] if d["label"] == "person"}
        for crop in r.get("models", {}).get("pose", {}).get("crops", []):
            assert "track_id" in crop
            assert crop["track_id"] == people[tuple(crop["box"])]
            paired += crop["track_id"] is not None
    assert paired >= 25  # the first person is in view from frame ~61: her pose carries her id
    ids = {d["track_id"] for r in records for d in r["detections"] if d["label"] == "person" and d["track_id"]}
    assert len(ids) == 1


def test_bad_track_option_and_zones_without_a_tracker_are_named(tmp_path):
    proc = run_cli("run", "--model", "m.tflite", "--source", "synthetic://", "--track", "max_lost=-3")
    assert proc.returncode == 2 and "--track: max_lost must be an integer >= 0, got -3" in proc.stderr
    toml = tmp_path / "p.toml"
    toml.write_text('source = "synthetic://"\n[[model]]\npath = "m.tflite"\n'
                    '[[line]]\nname = "l"\npoints = [[0, 0], [5, 5]]\n')
    proc = run_cli("run", "--config", str(toml))
    assert proc.returncode == 2 and "[[zone]] and [[line]] count tracked objects; add a [tracker]" in proc.stderr


@pytest.mark.parametrize("uri, words", [
    ("events://{d}?pre=often", "pre='often' is not a duration"),
    ("events://{d}?max_mb=0", "max_mb='0' must be a positive number"),
    ("events://{d}?clip=1", "unknown option(s) clip"),
])
def test_bad_event_sink_options_are_named(tmp_path, uri, words):
    with pytest.raises(SinkError) as err:
        open_sink(uri.format(d=tmp_path))
    assert words in str(err.value)


def _item(frame: int, events: list[dict]) -> SinkItem:
    img = np.full((120, 160, 3), (frame * 7) % 255, np.uint8)
    cv2.putText(img, str(frame), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 255), 2)
    record = {"frame": frame, "time": 1_700_000_000 + frame / 10}
    if events:
        record["events"] = events
    return SinkItem(FrameResult(frame, "synthetic", "detect", 160, 120), record, img, 10.0)


def _ev(kind="enter"):
    return {"type": kind, "zone": "z", "track_id": 1, "label": "person", "time_s": 0.0, "box": [10, 10, 50, 90]}


def test_clip_holds_pre_roll_and_post_roll_and_events_close_together_share_it(tmp_path):
    sink = open_event_sink(f"events://{tmp_path}?pre=1s&post=1s", f"{tmp_path}?pre=1s&post=1s")
    for f in range(60):
        sink.write(_item(f, [_ev()] if f in (20, 25, 50) else []))
        if f == 23:
            # beside it, the disk guard's reserve for the clip's index (edge.sinks.video_guard)
            names = [p.name for p in (tmp_path / "clips").iterdir() if not p.name.endswith(".reserve")]
            assert len(names) == 1 and names[0].startswith(".") and names[0].endswith(".partial.mp4"), names
    sink.close()
    clips = sorted((tmp_path / "clips").glob("*.mp4"))
    assert len(clips) == 2
    counts = [int(cv2.VideoCapture(str(p)).get(cv2.CAP_PROP_FRAME_COUNT)) for p in clips]
    assert counts == [10 + 16, 10 + 10]  # 1 s before frame 20 .. 1 s after frame 25; frames 40 .. 59 (closed early)
    lines = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [x["clip"] for x in lines] == [f"clips/{clips[0].name}"] * 2 + [f"clips/{clips[1].name}"]


def test_a_partial_clip_left_by_a_dead_run_is_removed_and_finished_ones_kept(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / ".20260101-000000-f000010.partial.mp4").write_bytes(b"\0" * 1000)  # no index: dead
    sink = open_event_sink(f"events://{tmp_path}?post=1s", f"{tmp_path}?post=1s")
    for f in range(30):
        sink.write(_item(f, [_ev()] if f == 5 else []))
    sink.close()
    sink = open_event_sink(f"events://{tmp_path}?post=1s", f"{tmp_path}?post=1s")  # a restart
    sink.close()
    names = sorted(p.name for p in (tmp_path / "clips").iterdir())
    assert len(names) == 1 and not names[0].startswith(".") and names[0].endswith(".mp4"), names
    assert int(cv2.VideoCapture(str(tmp_path / "clips" / names[0])).get(cv2.CAP_PROP_FRAME_COUNT)) == 11
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 1  # appended to, never truncated


def test_quota_removes_the_oldest_clips_first(tmp_path):
    sink = open_event_sink(f"events://{tmp_path}?post=1s&max_mb=0.05", f"{tmp_path}?post=1s&max_mb=0.05")
    for f in range(300):
        sink.write(_item(f, [_ev()] if f % 30 == 0 else []))
    sink.close()
    clips = sorted((tmp_path / "clips").glob("*.mp4"))
    assert len(sink.finished) == 10 and 1 <= len(clips) < 10
    assert clips == sink.finished[-len(clips):]  # the newest survive
    sizes = sum(p.stat().st_size for p in [*clips, *(tmp_path / "snapshots").glob("*.jpg")])
    assert sizes <= 0.05 * 1024 * 1024
    for p in clips:
        cap = cv2.VideoCapture(str(p))
        assert cap.read()[0] and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 11


@pytest.mark.parametrize("text, words", [
    ("1,-1,10,10,20,40,0.9\n2,-1,10,x,20,40,0.9\n", "det.txt:2: '2,-1,10,x,20,40,0.9' is not"),
    ("1,-1,10,10,20,40\n", "det.txt:1: 6 fields; expected at least 7"),
    ("0,-1,10,10,20,40,0.9\n", "det.txt:1: frame '0' must be an integer from 1"),
    ("1,-1,10,10,0,40,0.9\n", "det.txt:1: width and height must be positive"),
])
def test_edge_track_names_the_bad_line(tmp_path, text, words):
    det = tmp_path / "det.txt"
    det.write_text(text)
    proc = run_cli("track", "--detections", str(det), "--out", str(tmp_path / "t.txt"))
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert not (tmp_path / "t.txt").exists()


def test_edge_track_writes_mot_lines_with_ids(tmp_path):
    det = tmp_path / "det.txt"
    # two objects moving right for 10 frames, frame 6 empty (frames without lines still count)
    lines = [f"{f},-1,{10 + 5 * f},20,30,60,0.9,-1,-1,-1\n{f},-1,{300 - 5 * f},200,30,60,0.8,-1,-1,-1\n"
             for f in range(1, 11) if f != 6]
    det.write_text("".join(lines))
    out = tmp_path / "tracks.txt"
    proc = run_cli("track", "--detections", str(det), "--out", str(out), "--set", "max_lost=3")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split(",") for line in out.read_text().splitlines()]
    assert {int(r[0]) for r in rows} == set(range(1, 11)) - {6}
    by_id = {}
    for r in rows:
        by_id.setdefault(int(r[1]), []).append(float(r[3]))
    assert sorted(by_id) == [1, 2] and by_id[1] == [20.0] * 9 and by_id[2] == [200.0] * 9


def test_edge_track_interpolate_fills_the_gap_inside_a_track(tmp_path):
    det = tmp_path / "det.txt"
    # one object moving right 5 px a frame, missed on frames 7..9; a second object seen on frames 1..3 only
    lines = [f"{f},-1,{10 + 5 * f},20,30,60,0.9\n" for f in range(1, 13) if f not in (7, 8, 9)]
    lines += [f"{f},-1,400,300,30,60,0.9\n" for f in range(1, 4)]
    det.write_text("".join(lines))
    plain, filled = tmp_path / "plain.txt", tmp_path / "filled.txt"
    boxes = ("--boxes", "detection")  # the detections' own boxes, so the line between the ends is exact
    assert run_cli("track", "--detections", str(det), "--out", str(plain), *boxes).returncode == 0
    proc = run_cli("track", "--detections", str(det), "--out", str(filled), "--interpolate", "20", *boxes)
    assert proc.returncode == 0, proc.stderr
    before = {(int(r[0]), int(r[1])) for r in (line.split(",") for line in plain.read_text().splitlines())}
    after = [line.split(",") for line in filled.read_text().splitlines()]
    boxes = {(int(r[0]), int(r[1])): float(r[2]) for r in after}
    new = {k: v for k, v in boxes.items() if k not in before}
    moving = next(tid for (f, tid) in before if f == 12)
    # the three missed frames come back on the moving track, on the straight line between its ends
    assert new == {(7, moving): 45.0, (8, moving): 50.0, (9, moving): 55.0}, new
    assert [int(r[0]) for r in after] == sorted(int(r[0]) for r in after)


def test_edge_track_writes_filtered_boxes_by_default_and_detections_on_request(tmp_path):
    det = tmp_path / "det.txt"
    # one object moving right 5 px a frame; its detected left edge jitters by +-4 px around the true line
    true_x = [10.0 + 5 * f for f in range(1, 61)]
    jitter = [4.0 if f % 2 else -4.0 for f in range(1, 61)]
    det.write_text("".join(f"{f},-1,{x + j},20,30,60,0.9\n" for f, x, j in zip(range(1, 61), true_x, jitter)))
    written = {}
    for mode in ("track", "detection"):
        out = tmp_path / f"{mode}.txt"
        proc = run_cli("track", "--detections", str(det), "--out", str(out), "--boxes", mode)
        assert proc.returncode == 0, proc.stderr
        written[mode] = {int(r[0]): float(r[2]) for r in (line.split(",") for line in out.read_text().splitlines())}
    assert written["detection"] == {f: round(x + j, 2) for f, x, j in zip(range(1, 61), true_x, jitter)}
    assert set(written["track"]) == set(written["detection"])
    # once the velocity is learnt (frame 20 on), the filtered box is off the true line by less than the jitter
    errors = [abs(written["track"][f] - true_x[f - 1]) for f in range(20, 61)]
    assert max(errors) < 3.0 and sum(errors) / len(errors) < 2.5, errors
    proc = run_cli("track", "--detections", str(det), "--out", str(tmp_path / "x.txt"), "--boxes", "kalman")
    assert proc.returncode == 2 and "--boxes" in proc.stderr and "track" in proc.stderr, proc.stderr


def test_interpolate_gaps_limits():
    from edge.track_cli import interpolate_gaps
    track = [(f, 1, 10.0 * f, 0.0, 10.0, 20.0, 0.9) for f in (1, 2, 3, 4, 5, 6, 26)]  # a 20-frame gap
    assert interpolate_gaps(track, 20) == track  # frames differ by 20: not less than N, left open
    assert len(interpolate_gaps(track, 21)) == len(track) + 19
    short = [(f, 2, 0.0, 0.0, 10.0, 20.0, 0.8) for f in (1, 2, 3, 4, 8)]  # 5 boxes: not more than 5
    assert interpolate_gaps(short, 20) == short
    filled = interpolate_gaps(short + [(10, 2, 0.0, 0.0, 10.0, 20.0, 0.5)], 20)
    assert [r[0] for r in filled] == list(range(1, 11)) and filled[4][6] == 0.8 and filled[8][6] == 0.5


def test_edge_track_interpolate_rejects_a_negative_gap(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,10,20,40,0.9\n")
    proc = run_cli("track", "--detections", str(det), "--out", str(tmp_path / "t.txt"), "--interpolate", "-3")
    assert proc.returncode == 2 and "--interpolate: -3" in proc.stderr, proc.stderr
