"""events:// limits on synthetic frames: one clip never grows past ``max_clip`` while events keep coming, and a
full disk (a real tmpfs) ends a clip playable, with a counted warning, never a half-written file."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge.errors import SinkError
from edge.sinks.events import EventSink, open_event_sink
from edge.results import FrameResult
from edge.sinks import SinkItem
from edge.sinks.video_guard import playable_frames

W, H, FPS = 160, 120, 10.0


def _frame(i: int) -> np.ndarray:
    """A frame that differs from its neighbours (noise plus a moving bar), so mp4v has real data to write."""
    rng = np.random.default_rng(i)
    img = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    img[:, (i * 7) % W: (i * 7) % W + 10] = 255
    return img


def _item(i: int, events: list[dict]) -> SinkItem:
    result = FrameResult(frame=i, source="synthetic://", task="detect", width=W, height=H)
    return SinkItem(result, {"frame": i, "time": 1_700_000_000.0 + i / FPS, "events": events}, _frame(i), FPS)


def _event(i: int) -> list[dict]:
    return [{"type": "cross", "line": "door", "track_id": i, "direction": "in"}]


def _clips(folder: Path) -> list[Path]:
    return sorted((folder / "clips").glob("*.mp4"))


def test_max_clip_splits_a_long_run_of_events_into_playable_clips(tmp_path):
    sink = open_event_sink(f"events://{tmp_path}/ev?pre=1s&post=1s&max_clip=2s", f"{tmp_path}/ev?pre=1s&post=1s&max_clip=2s")
    assert sink.max_clip == 2.0
    for i in range(1, 61):  # an event every 5th frame for 6 s: the post window never closes until the end
        sink.write(_item(i, _event(i) if i % 5 == 0 and i <= 55 else []))
    sink.close()
    clips = _clips(tmp_path / "ev")
    frames = [playable_frames(p) for p in clips]
    assert len(clips) >= 3 and all(0 < n <= 20 for n in frames), frames  # 2 s at 10 FPS each at most
    # pre-roll (frames 1-4) to the last frame (the post window runs past it): every frame in exactly one clip
    assert sum(frames) == 60, frames
    assert not list((tmp_path / "ev" / "clips").glob(".*"))
    lines = (tmp_path / "ev" / "events.jsonl").read_text().splitlines()
    named = {json.loads(x)["clip"] for x in lines}
    assert named <= {f"clips/{p.name}" for p in clips} and len(named) >= 3


def test_a_short_burst_stays_one_clip(tmp_path):
    sink = EventSink(tmp_path / "ev", pre=1.0, post=1.0)  # default max_clip 60 s
    for i in range(1, 41):
        sink.write(_item(i, _event(i) if i in (15, 18) else []))
    sink.close()
    clips = _clips(tmp_path / "ev")
    assert [playable_frames(p) for p in clips] == [10 + 1 + 3 + 10], [playable_frames(p) for p in clips]


@pytest.mark.parametrize("text", ["0", "-3s", "soon"])
def test_bad_max_clip_is_a_named_error(tmp_path, text):
    with pytest.raises(SinkError, match="max_clip"):
        open_event_sink(f"events://{tmp_path}?pre=1s&max_clip={text}", f"{tmp_path}?pre=1s&max_clip={text}")


@pytest.fixture
def tiny_disk(tmp_path):
    where = tmp_path / "tiny"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()}); needs root")
    yield where
    subprocess.run(["umount", str(where)], capture_output=True)


def test_disk_full_ends_the_clip_playable_with_a_counted_warning(tiny_disk, caplog):
    folder = tiny_disk / "ev"
    sink = EventSink(folder, pre=0.5, post=0.5, max_clip=600.0)
    caplog.set_level(logging.WARNING, logger="edge.sinks.events")
    for i in range(1, 401):  # noise frames: ~1 MB of mp4v long before 400 frames
        sink.write(_item(i, _event(i) if i % 3 == 0 else []))
    sink.close()
    assert sink.clips_cut_short >= 1, caplog.text
    cut = [r.getMessage() for r in caplog.records if "closed early" in r.getMessage()]
    assert cut and "playable" in cut[0] and "1 clip(s) cut short" in cut[0], caplog.text
    clips = _clips(folder)
    assert clips and all(playable_frames(p) > 0 for p in clips), clips
    assert not list((folder / "clips").glob(".*partial*")), list((folder / "clips").iterdir())
    assert not list(tiny_disk.rglob(".*.reserve"))
    assert any("the disk was full" in r.getMessage() for r in caplog.records)  # the summary at close
    lines = (folder / "events.jsonl").read_text().splitlines()
    assert len(lines) == 400 // 3  # every event line kept, with or without its clip and snapshot
    named = {json.loads(x).get("clip") for x in lines} - {None}
    assert named <= {f"clips/{p.name}" for p in clips}
