"""The zoo SSD on the zoo clip of people walking through a room one by one (768x432, 10 FPS, 1394 frames),
tracked, counted by a zone and a line, with an events:// sink. One run of the whole clip serves the tests.

By eye (contact sheets of frames 70, 130, 190, 213, 240, 340, 440, 475, 520, 610, 690, 720, 760, 820, 860, 900,
940, 1060, 1190, 1215, 1250, 1300, 1355, 1380): six people, one at a time, each walking in from the lower left
to the table and leaving to the right, the room empty in between (frames 213, 475, 720, 900, 1215, 1380):
a woman in a grey cardigan (to ~frame 196), a man in black (~230-445), a blonde woman in black (~505-695),
a man in a black T-shirt with glasses (~745-866), a dark-haired woman in a grey jumper (~925-1196), a man in a
grey shirt (~1236-1358). So: six person ids, each over one visit; six crossings of a line right of the table.
"""

from __future__ import annotations

import json
import subprocess

import cv2
import pytest

from .helpers import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.zoo]
PEOPLE = 6  # counted by eye, see above
VISITS = [(61, 196), (229, 449), (503, 699), (745, 868), (922, 1196), (1236, 1359)]  # frames with a person

PIPELINE = """
source = "file://{clip}"
[[model]]
path = "{ssd}"
name = "detect"
score = 0.4
[tracker]
[[zone]]
name = "table"
units = "normalized"
points = [[0.4, 0.1], [0.7, 0.1], [0.7, 0.9], [0.4, 0.9]]
classes = ["person"]
anchor = "center"
dwell = 3
[[line]]
name = "exit"
points = [[560, 432], [560, 0]]   # pointing up: its right is the room's right side, where people leave
classes = ["person"]
"""


@pytest.fixture(scope="module")
def run(zoo, ssd, clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("clip")
    toml = out / "pipeline.toml"
    toml.write_text(PIPELINE.format(clip=clip, ssd=ssd))
    proc = run_cli("run", "--config", str(toml), "--sink", f"jsonl://{out}/frames.jsonl",
                   "--sink", f"events://{out}/events?pre=2s&post=2s", "--quiet", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    events = [json.loads(line) for line in (out / "events" / "events.jsonl").read_text().splitlines()]
    return out, records, events


def test_each_person_keeps_one_id_while_in_view(run):
    _, records, _ = run
    assert len(records) == 1394
    frames_of: dict[int, list[int]] = {}
    for r in records:
        for d in r["detections"]:
            if d["label"] == "person" and d["track_id"] is not None:
                frames_of.setdefault(d["track_id"], []).append(r["frame"])
    assert len(frames_of) == PEOPLE, {k: (v[0], v[-1]) for k, v in frames_of.items()}
    for (first, last), (tid, frames) in zip(VISITS, sorted(frames_of.items())):
        # each id lives within one visit and covers most of it
        assert first - 5 <= frames[0] and frames[-1] <= last + 5, (tid, frames[0], frames[-1], first, last)
        assert len(frames) >= 0.8 * (last - first), (tid, len(frames), first, last)


def test_the_line_and_the_zone_count_the_people(run):
    _, records, _ = run
    assert all("zones" in r and "lines" in r for r in records)  # counts on every line
    last = records[-1]
    assert last["lines"]["exit"] == {"in": PEOPLE, "out": 0}
    assert last["zones"]["table"] == {"inside": 0, "in": PEOPLE, "out": PEOPLE, "dwell_s": {}}
    at_table = records[350]  # the second person stands at the table
    assert at_table["zones"]["table"]["inside"] == 1 and at_table["zones"]["table"]["dwell_s"]


def test_events_with_snapshots_and_complete_clips(run):
    out, _, events = run
    by_type: dict[str, list] = {}
    for e in events:
        by_type.setdefault(e["type"], []).append(e)
    assert {k: len(v) for k, v in by_type.items()} == {"enter": PEOPLE, "exit": PEOPLE, "dwell": PEOPLE,
                                                       "cross": PEOPLE}
    enters = [e["track_id"] for e in by_type["enter"]]
    assert enters == [e["track_id"] for e in by_type["exit"]] == sorted(set(enters))  # in, then out, per person
    for e in events:
        full = cv2.imread(str(out / "events" / e["snapshot"]))
        crop = cv2.imread(str(out / "events" / e["crop"]))
        assert full is not None and full.shape == (432, 768, 3)
        x0, y0, x1, y1 = e["box"]
        assert crop is not None and crop.shape[1] <= 1.2 * (x1 - x0) + 2 and crop.shape[0] <= 1.2 * (y1 - y0) + 2
    # the overlay of a full snapshot: the zone outline (BGR 0, 200, 255) and the line (255, 0, 255) are drawn
    full = cv2.imread(str(out / "events" / by_type["cross"][0]["snapshot"])).astype(int)
    near = lambda bgr: int((abs(full - bgr).sum(axis=2) < 60).sum())  # noqa: E731
    assert near((0, 200, 255)) > 500 and near((255, 0, 255)) > 500, (near((0, 200, 255)), near((255, 0, 255)))
    clips = sorted((out / "events" / "clips").glob("*.mp4"))
    assert {e["clip"] for e in events} == {f"clips/{p.name}" for p in clips}
    assert not list((out / "events" / "clips").glob(".*"))  # no partial file left
    for p in clips:
        frames, seconds = ffprobe_frames(p)
        assert frames >= 20 and abs(seconds - frames / 10) < 0.2, (p, frames, seconds)  # >= pre + post


def ffprobe_frames(path) -> tuple[int, float]:
    proc = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                           "stream=nb_read_frames,duration", "-of", "json", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), (path, proc.stderr)
    stream = json.loads(proc.stdout)["streams"][0]
    return int(stream["nb_read_frames"]), float(stream["duration"])


def test_a_tiny_quota_keeps_only_the_newest_clips_all_playable(zoo, ssd, clip, tmp_path):
    toml = tmp_path / "pipeline.toml"
    toml.write_text(PIPELINE.format(clip=clip, ssd=ssd))
    ev = tmp_path / "events"
    proc = run_cli("run", "--config", str(toml), "--max-frames", "720", "--quiet",
                   "--sink", f"events://{ev}?pre=2s&post=2s&max_mb=2", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in (ev / "events.jsonl").read_text().splitlines()]
    named = sorted({e["clip"] for e in events})  # every clip ever written, oldest first (names sort by time)
    kept = sorted(f"clips/{p.name}" for p in (ev / "clips").glob("*.mp4"))
    assert len(named) >= 6 and 1 <= len(kept) < len(named), (named, kept)
    assert kept == named[-len(kept):]  # the newest survive
    total = sum(p.stat().st_size for p in ev.rglob("*") if p.is_file() and p.name != "events.jsonl")
    assert total <= 2 * 1024 * 1024
    for name in kept:
        frames, _ = ffprobe_frames(ev / name)
        assert frames >= 20
