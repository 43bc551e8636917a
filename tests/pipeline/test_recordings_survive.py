"""No recording or result is lost: a disk that fills during a plain mp4 and a JSON lines recording, a restart
over the same sink paths, a clip damaged in the middle, a clip cut short. Real runs of ``python -m edge run``
(the zoo SSD), real tmpfs file systems, files checked afterwards with ffprobe and a line-by-line JSON parse."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from .pipeline_helpers import edge_cmd, edge_env, ensure_tool
from edge.errors import SinkError
from edge.safe_write import LineAppender
from edge.sources.synthetic import render_pattern


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(size)``: a fresh tmpfs of ``size`` (e.g. "600k") mounted under tmp_path."""
    mounts = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk{len(mounts)}"
        where.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()}); needs root")
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", str(where)], capture_output=True)


def _run(ssd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(edge_cmd("run", "--model", str(ssd), "--threads", "1", "--quiet", *args),
                          env=edge_env(), capture_output=True, text=True, timeout=timeout)


def _ffprobe_frames(path: Path) -> int:
    ffprobe = ensure_tool("ffprobe", "ffmpeg")
    out = subprocess.run([ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def _json_lines(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path} ends in a partial line: {data[-80:]!r}"
    return [json.loads(line) for line in data.decode().splitlines()]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SYNTH = "synthetic://?width=320&height=240&fps=0"


# ------------------------------------------------------------------ disk full


def test_disk_full_on_a_plain_mp4_stops_with_a_named_error_and_a_playable_file(ssd, small_disk):
    disk = small_disk("1m")
    video = disk / "out.mp4"
    proc = _run(ssd, "--source", SYNTH, "--sink", f"file://{video}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Failed to write frame" not in proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("edge run: error:")]
    assert len(line) == 1 and "disk full" in line[0] and "stays playable" in line[0], proc.stderr[-2000:]
    kept = int(re.search(r"closed with the (\d+) frames", line[0]).group(1))
    assert kept >= 20
    assert _ffprobe_frames(video) == kept
    assert sorted(p.name for p in disk.iterdir()) == ["out.mp4"]  # the index reserve is gone


def test_disk_full_on_jsonl_never_leaves_a_partial_line(ssd, small_disk):
    disk = small_disk("24k")
    jsonl = disk / "out.jsonl"
    proc = _run(ssd, "--source", SYNTH, "--sink", f"jsonl://{jsonl}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"edge run: error: {jsonl}: write failed" in proc.stderr and "No space left" in proc.stderr
    records = _json_lines(jsonl)
    frames = [r["frame"] for r in records]  # a live source: frames may be dropped, never reordered
    assert len(records) > 10 and frames == sorted(set(frames))


def test_mp4_and_jsonl_filling_one_disk_both_stay_whole(ssd, small_disk):
    disk = small_disk("1m")
    video, jsonl = disk / "rec.mp4", disk / "rec.jsonl"
    proc = _run(ssd, "--source", SYNTH, "--sink", f"jsonl://{jsonl}", "--sink", f"file://{video}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    records = _json_lines(jsonl)
    frames = _ffprobe_frames(video)
    assert frames > 10 and len(records) >= frames  # the JSON line of a frame is written before its video frame


def test_line_appender_cuts_back_to_the_last_whole_line(small_disk):
    disk = small_disk("16k")
    out = LineAppender(disk / "lines.jsonl")
    rng = np.random.default_rng(1)
    written = []
    with pytest.raises(SinkError, match="the file ends at the last complete line"):
        for n in range(100_000):
            line = json.dumps({"n": n, "pad": "x" * int(rng.integers(1, 3000))})
            out.append(line)
            written.append(line)
    out.close()
    assert (disk / "lines.jsonl").read_text().splitlines() == written


def test_a_partial_last_line_from_a_killed_run_is_cut_and_the_rest_kept(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"frame": 0}\n{"frame": 1}\n{"fra')
    out = LineAppender(path)
    out.append('{"frame": 2}')
    out.close()
    assert out.dropped_tail == 5
    assert [r["frame"] for r in _json_lines(path)] == [0, 1, 2]


# ------------------------------------------------------------------ restart over the same paths


def test_a_restart_over_the_same_paths_keeps_every_earlier_file(ssd, tmp_path):
    rec = tmp_path / "rec"
    video, jsonl, seg, frames = rec / "out.mp4", rec / "out.jsonl", rec / "seg.mp4", rec / "frames"
    sinks = ["--sink", f"file://{video}", "--sink", f"jsonl://{jsonl}", "--sink", f"file://{seg}?segment=1s",
             "--sink", f"file://{frames}/"]
    clip = tmp_path / "clip.mp4"
    _make_clip(clip, frames=30)  # 10 fps: three 1 s segments
    source = ["--source", f"file://{clip}"]
    rec.mkdir()
    first = _run(ssd, *source, *sinks)
    assert first.returncode == 0, first.stderr[-3000:]
    files = lambda: {str(p.relative_to(rec)): p for p in rec.rglob("*") if p.is_file()}  # noqa: E731
    before = {name: _sha(p) for name, p in files().items()}
    assert {n for n in before if "/" not in n} == {"out.mp4", "out.jsonl", "seg-00000.mp4", "seg-00001.mp4",
                                                   "seg-00002.mp4"}
    assert len([n for n in before if n.startswith("frames/frame_")]) == 30
    jsonl_before = jsonl.read_bytes()

    second = _run(ssd, *source, *sinks)
    assert second.returncode == 0, second.stderr[-3000:]
    after = files()
    for name, digest in before.items():
        if name != "out.jsonl":
            assert _sha(after[name]) == digest, f"{name} was changed by the restart"
    assert jsonl.read_bytes()[:len(jsonl_before)] == jsonl_before  # appended after the earlier lines
    assert len(_json_lines(jsonl)) == 60
    new_video = [n for n in after if re.fullmatch(r"out-\d{8}-\d{6}\.mp4", n)]
    assert len(new_video) == 1 and _ffprobe_frames(rec / new_video[0]) == 30
    assert sorted(n for n in after if n.startswith("seg-")) == [f"seg-0000{i}.mp4" for i in range(6)]
    assert len([n for n in after if re.fullmatch(r"frames/frame_\d{8}-\d{6}_\d{6}\.jpg", n)]) == 30
    assert f"recording to {new_video[0]}" in second.stderr
    assert "continuing with seg-00003.mp4" in second.stderr
    assert "appending after" in second.stderr and "holds frames of an earlier run" in second.stderr


def test_masks_of_an_earlier_run_are_kept(tmp_path):
    from edge.sinks.masks import MaskSink
    from edge.results import FrameResult
    from edge.sinks import SinkItem
    from edge.tasks.segment import Segmentation

    def item(value: int) -> SinkItem:
        seg = Segmentation(np.full((4, 6), value), np.array([1.0]))
        return SinkItem(FrameResult(0, "cam", "segment", 6, 4, models={"deeplab": seg}), {})

    for value in (1, 2):  # two runs of a camera source: both start at frame 0
        sink = MaskSink(tmp_path)
        sink.write(item(value))
        sink.close()
    maps = {p.name: cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in tmp_path.iterdir()}
    assert maps["frame_000000.png"].max() == 1  # the first run's map, untouched
    later = [n for n in maps if re.fullmatch(r"frame_\d{8}-\d{6}_000000\.png", n)]
    assert len(later) == 1 and maps[later[0]].max() == 2


def test_sigkill_keeps_whole_lines_and_closed_segments(ssd, tmp_path):
    jsonl, seg, plain = tmp_path / "out.jsonl", tmp_path / "seg.mp4", tmp_path / "plain.mp4"
    proc = subprocess.Popen(edge_cmd("run", "--model", str(ssd), "--threads", "1", "--quiet", "--source",
                                     "synthetic://?width=320&height=240&fps=10", "--sink", f"jsonl://{jsonl}",
                                     "--sink", f"file://{seg}?segment=1s", "--sink", f"file://{plain}"),
                            env=edge_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and len(list(tmp_path.glob("seg-*.mp4"))) < 2:
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    segments = sorted(tmp_path.glob("seg-*.mp4"))
    assert len(segments) >= 2
    assert all(_ffprobe_frames(p) == 10 for p in segments)  # every closed segment: whole and playable
    lines = jsonl.read_bytes().split(b"\n")
    assert all(json.loads(x) for x in lines[:-1])  # every line but an unfinished last one
    again = LineAppender(jsonl)  # the next start cuts a partial last line off, keeps the rest
    again.close()
    assert len(_json_lines(jsonl)) == len(lines) - 1
    read = _run(ssd, "--source", f"file://{plain}", "--sink", "null://")  # a plain mp4 has no index yet
    assert read.returncode == 2 and "an MP4 without its index" in read.stderr


# ------------------------------------------------------------------ damaged and truncated clips


def _make_clip(path: Path, frames: int = 60, fps: float = 10.0) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    for n in range(frames):
        writer.write(render_pattern(n, 320, 240))
    writer.release()
    return path.read_bytes()


def test_a_clip_damaged_in_the_middle_is_processed_to_the_end(ssd, tmp_path):
    clip = tmp_path / "clip.mp4"
    data = bytearray(_make_clip(clip))
    a, b = int(len(data) * 0.40), int(len(data) * 0.55)  # inside the media data, before the index at the end
    data[a:b] = np.random.default_rng(0).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    clip.write_bytes(bytes(data))
    cap = cv2.VideoCapture(str(clip))
    plain = 0
    while cap.read()[0]:
        plain += 1
    cap.release()
    decodable = _ffprobe_frames(clip)
    assert plain < decodable < 60  # OpenCV alone stops at the damage; ffmpeg decodes past it

    jsonl = tmp_path / "out.jsonl"
    proc = _run(ssd, "--source", f"file://{clip}", "--sink", f"jsonl://{jsonl}", "--summary",
                str(tmp_path / "summary.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _json_lines(jsonl)
    assert len(records) == decodable
    damaged = [r for r in records if "damaged" in r]
    skipped = sum(r["damaged"]["skipped_frames"] for r in damaged)
    assert damaged and skipped == 60 - decodable
    assert records[-1]["frame"] == 59  # frame numbers are positions in the clip: the gap shows
    first = damaged[0]
    assert first["damaged"]["to_ms"] > first["damaged"]["from_ms"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["damaged"]["skipped_frames"] == skipped and summary["damaged"]["ended_early"] is None
    assert summary["damaged"]["gaps"] == [{"before_frame": r["frame"], **r["damaged"]} for r in damaged]
    assert f"damaged input: {skipped} undecodable frame(s) skipped" in proc.stdout


@pytest.mark.parametrize("name, start, end", [
    pytest.param("one-by-one-person-detection.mp4", 0.40, 0.42, marks=pytest.mark.slow),  # 1394 frames, 3 times
    ("traffic_frames.mp4", 0.45, 0.50)])
def test_damaged_h264_clips_of_the_zoo_are_read_as_far_as_ffmpeg_reads_them(zoo, tmp_path, name, start, end):
    from edge.sources import open_file

    data = bytearray((zoo / "video" / name).read_bytes())
    a, b = int(len(data) * start), int(len(data) * end)
    data[a:b] = np.random.default_rng(0).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    clip = tmp_path / name
    clip.write_bytes(bytes(data))
    cap = cv2.VideoCapture(str(clip))
    plain = 0
    while cap.read()[0]:
        plain += 1
    cap.release()
    source = open_file(clip)
    frames = list(source)
    source.close()
    assert plain < len(frames) == _ffprobe_frames(clip)  # before: 555 of 1363 and 0 of 18
    assert source.skipped >= 2 and source.ended_early is None
    assert sum(f.damaged["skipped_frames"] for f in frames if f.damaged) == source.skipped
    assert [f.index for f in frames] == sorted({f.index for f in frames})


def test_a_truncated_clip_ends_with_a_note_that_it_ended_early(ssd, tmp_path):
    ffmpeg = ensure_tool("ffmpeg", "ffmpeg")
    made = tmp_path / "made.mp4"
    _make_clip(made)
    clip = tmp_path / "clip.mp4"  # index first (as cameras and web encoders write it), then cut at 60 %
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(made), "-c", "copy", "-movflags", "+faststart",
                    str(clip)], check=True)
    data = clip.read_bytes()
    clip.write_bytes(data[:int(len(data) * 0.6)])
    decodable = _ffprobe_frames(clip)
    jsonl = tmp_path / "out.jsonl"
    proc = _run(ssd, "--source", f"file://{clip}", "--sink", f"jsonl://{jsonl}", "--summary",
                str(tmp_path / "summary.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(_json_lines(jsonl)) == decodable
    ended = json.loads((tmp_path / "summary.json").read_text())["damaged"]["ended_early"]
    assert ended == {"source": "clip.mp4", "at_frame": decodable, "listed_frames": 60, "at_ms": ended["at_ms"]}
    assert f"ended early: clip.mp4 stopped at frame {decodable} of the 60" in proc.stdout
    assert "ended early" in proc.stderr  # and the warning when it happened


def test_an_mp4_cut_off_before_its_index_gets_a_named_error(ssd, tmp_path):
    clip = tmp_path / "cut.mp4"
    data = _make_clip(clip)
    clip.write_bytes(data[:len(data) // 2])  # what a killed OpenCV writer leaves: media data, no moov
    proc = _run(ssd, "--source", f"file://{clip}", "--sink", "null://")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{clip}: an MP4 without its index (no moov box)" in proc.stderr
