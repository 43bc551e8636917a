"""The threaded pipeline on a real clip (nothing dropped, order kept) and on a live synthetic camera."""

from __future__ import annotations

import json
import subprocess

import cv2
import pytest

from edge.model_chain import ModelChain
from edge.pipeline import DropQueue, Pipeline
from edge.pipeline_config import models_from_entries
from edge.sinks import open_sink
from edge.sources import open_source
from edge.sources.synthetic import SyntheticOptions, frame_number_mark
from edge.errors import SourceError
from .pipeline_helpers import edge_cmd, edge_env


def _chain(ssd):
    return ModelChain(models_from_entries([{"path": str(ssd), "threads": 2}], "test"))


def test_file_source_drops_nothing_and_keeps_order(ssd, clip, tmp_path):
    records = []
    jsonl = tmp_path / "out.jsonl"
    pipe = Pipeline(open_source(f"file://{clip}"), _chain(ssd), [open_sink(f"jsonl://{jsonl}"), open_sink("null://")],
                    max_frames=40, on_record=records.append)
    summary = pipe.run(handle_signals=False)
    assert summary["frames"] == 40 and summary["drops"] == {"capture": 0, "output": 0}
    lines = [json.loads(x) for x in jsonl.read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(40))
    for rec in lines:
        assert set(rec["timing_ms"]) == {"capture", "pre", "infer", "post", "render"}
        assert rec["latency_ms"] >= rec["timing_ms"]["infer"] > 0
    assert set(summary["stages_ms"]) == {"capture", "pre", "infer", "post", "render", "sink"}
    assert all(r["source"] == clip.name and r["task"] == "detect" for r in lines)


def test_live_source_drops_oldest_and_results_stay_fresh(ssd):
    records = []
    # 400 FPS (2.5 ms a frame) is far faster than SSD runs on any CPU here, loaded or idle: the pipeline must
    # drop, and every frame it shows must be recent
    pipe = Pipeline(open_source("synthetic://?width=320&height=240&fps=400&frames=120"), _chain(ssd),
                    [open_sink("null://")], on_record=records.append)
    summary = pipe.run(handle_signals=False)
    assert summary["captured"] == 120
    assert summary["drops"]["capture"] > 0
    assert summary["frames"] + summary["drops"]["capture"] + summary["drops"]["output"] == 120
    assert summary["queue_max"]["capture"] <= 1  # no queue growth
    frames = [r["frame"] for r in records]
    assert frames == sorted(frames) and len(set(frames)) == len(frames)
    infer = sorted(r["timing_ms"]["infer"] for r in records)[len(records) // 2]
    lat = sorted(r["latency_ms"] for r in records)[len(records) // 2]
    assert lat < 4 * infer + 50  # a queue of one: at most one frame waits


def test_drop_queue_evicts_oldest():
    q = DropQueue(2)
    assert [q.put(i, drop_oldest=True) for i in range(5)] == [0, 0, 1, 1, 1]
    assert [q.get(), q.get()] == [3, 4]


def test_synthetic_frames_carry_their_number():
    src = open_source("synthetic://?width=64&height=48&fps=0&frames=300")
    got = [frame_number_mark(f.image) for f in src]
    assert got == [n % 256 for n in range(300)]


@pytest.mark.parametrize("uri, needle", [
    ("synthetic://?width=8", "width and height must lie in 16..8192"),
    ("synthetic://?fps=-1", "fps must be >= 0"),
    ("synthetic://?colour=red", "unknown option(s) colour"),
    ("synthetic://?width=abc", "must be integers"),
])
def test_synthetic_bad_options(uri, needle):
    with pytest.raises(SourceError, match=None) as err:
        SyntheticOptions.from_uri(uri)
    assert needle in str(err.value)


def test_cli_run_live_with_toml_chain(ssd, tmp_path):
    config = tmp_path / "pipe.toml"
    config.write_text(f'source = "synthetic://?width=320&height=240&fps=30&frames=20"\n'
                      f'sinks = ["jsonl://{tmp_path}/out.jsonl"]\n'
                      f'[[model]]\npath = "{ssd}"\nname = "det"\nscore = 0.2\nthreads = 2\n'
                      f'[[model]]\npath = "{ssd}"\nname = "dark_only"\nwhen = "brightness < 5"\n')
    proc = subprocess.run(edge_cmd("run", "--config", str(config), "--quiet"), env=edge_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "fps: end-to-end" in proc.stdout and "latency ms (capture to sink)" in proc.stdout
    recs = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert recs and all(r["skipped"] == ["dark_only"] for r in recs)  # the pattern is bright: gate closed


def test_config_rejects_unknown_keys(ssd, tmp_path):
    config = tmp_path / "pipe.toml"
    config.write_text(f'source = "synthetic://"\n[[model]]\npath = "{ssd}"\nscroe = 0.5\n')
    proc = subprocess.run(edge_cmd("run", "--config", str(config)), env=edge_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "unknown key(s) scroe" in proc.stderr
