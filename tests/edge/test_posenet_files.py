"""PoseNet files whose outputs are heatmaps + short offsets + mid offsets: recognised from their structure,
decoded multi-person (tfjs decodeMultiplePoses) through ``python -m edge run``, and Coral's decoder op refused.
The models are written by the tests (tests/edge/tflite_writer.py): constant outputs of a scene we construct."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from edge.tasks.posenet import POSE_CHAIN, decode_posenet, recognise, split_mid_offsets

from .tflite_writer import build_model

STRIDE, GRID, SIZE = 32, 9, 257


def _people(rng) -> list[np.ndarray]:
    """Two people in separate columns of a 257-pixel input: 17 (x, y) keypoints each."""
    return [np.stack([x0 + rng.uniform(0, 80, 17), rng.uniform(5, 250, 17)], axis=1).astype(np.float32)
            for x0 in (10, 165)]


def _scene(people, heat=(3.0, 2.0)):
    """Ideal heatmaps [1,9,9,17], short offsets [1,9,9,34] and mid offsets [1,9,9,64] for these people:
    every cell belongs to the person nearest in x."""
    hm = np.full((1, GRID, GRID, 17), -6.0, np.float32)
    short = np.zeros((1, GRID, GRID, 34), np.float32)
    mid = np.zeros((1, GRID, GRID, 64), np.float32)
    centres = [p[:, 0].mean() for p in people]
    for row in range(GRID):
        for col in range(GRID):
            p = people[int(np.argmin([abs(col * STRIDE - c) for c in centres]))]
            short[0, row, col, :17] = p[:, 1] - row * STRIDE
            short[0, row, col, 17:] = p[:, 0] - col * STRIDE
            for e, (parent, child) in enumerate(POSE_CHAIN):
                dy, dx = p[child, 1] - p[parent, 1], p[child, 0] - p[parent, 0]
                mid[0, row, col, [e, 16 + e, 32 + e, 48 + e]] = dy, dx, -dy, -dx
    for person, h in zip(people, heat):
        for k, (x, y) in enumerate(person):
            hm[0, int(np.floor(y / STRIDE + 0.5)), int(np.floor(x / STRIDE + 0.5)), k] = h
    return hm, short, mid


def test_mid_offsets_decode_two_people_exactly():
    people = _people(np.random.default_rng(5))
    hm, short, mid = _scene(people)
    fwd, bwd = split_mid_offsets(mid)
    assert fwd.shape == bwd.shape == (1, GRID, GRID, 32) and np.array_equal(fwd, -bwd)
    poses, scores = decode_posenet(hm, short, fwd, bwd, stride=STRIDE)
    assert poses.shape == (2, 17, 3)
    for pose, person in zip(poses, people):  # stronger person first
        assert np.allclose(pose[:, :2], person, atol=1e-3)
    assert scores == pytest.approx([1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(-2.0))], abs=1e-5)
    with pytest.raises(Exception, match="64 channels"):
        split_mid_offsets(mid[..., :60])


def test_structure_recognition():
    s = (1, 9, 9)
    assert recognise([("h", s + (17,)), ("o", s + (34,)), ("m", s + (64,))]) == \
        {"h": "heatmaps", "o": "offsets", "m": "mid_offsets"}
    four = recognise([("heat", s + (17,)), ("off", s + (34,)), ("displacement_bwd_2", s + (32,)),
                      ("displacement_fwd_2", s + (32,))])
    assert four["displacement_fwd_2"] == "displacements_fwd" and four["displacement_bwd_2"] == "displacements_bwd"
    assert recognise([("a", s + (17,)), ("b", s + (34,)), ("c", (1, 5, 5, 64))]) is None  # grids differ
    assert recognise([("a", s + (17,)), ("b", s + (34,))]) is None
    assert recognise([("a", (1, 2016, 18)), ("b", (1, 2016, 1)), ("c", (1, 1))]) is None


@pytest.fixture(scope="module")
def posenet_file(tmp_path_factory):
    people = _people(np.random.default_rng(7))
    hm, short, mid = _scene(people)
    path = tmp_path_factory.mktemp("posenet") / "posenet_mid_offsets.tflite"
    path.write_bytes(build_model([1, SIZE, SIZE, 3], {"heatmaps": hm, "short_offsets": short, "mid_offsets": mid}))
    return path, people


def test_cli_recognises_and_decodes_a_posenet_file(posenet_file, tmp_path, cli):
    path, people = posenet_file
    info = cli("info", "--model", str(path), "--json")
    assert info.returncode == 0, info.stderr
    plan = json.loads(info.stdout)
    assert plan["task"] == "pose" and plan["decode"]["kind"] == "posenet"
    assert [o["role"] for o in plan["outputs"]] == ["heatmaps", "offsets", "mid_offsets"]
    assert plan["input"]["mean"] == [127.5] * 3 and plan["input"]["std"] == [127.5] * 3
    image = tmp_path / "wide.png"
    cv2.imwrite(str(image), np.zeros((SIZE, 2 * SIZE, 3), np.uint8))  # 2:1 frame, stretched into 257x257
    jsonl = tmp_path / "out.jsonl"
    proc = cli("run", "--model", str(path), "--source", str(image), "--sink", f"jsonl://{jsonl}", "--quiet")
    assert proc.returncode == 0, proc.stderr
    (record,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
    poses = record["poses"]
    assert len(poses) == 2 and poses[0]["score"] > poses[1]["score"]
    for pose, person in zip(poses, people):
        kp = np.array(pose["keypoints"])
        expected = person * [2 * SIZE / SIZE, 1.0]  # input pixels -> frame pixels of the stretched frame
        assert np.abs(kp[:, :2] - np.clip(expected, 0, [2 * SIZE - 1, SIZE - 1])).max() <= 0.1


def _poses(cli, tmp_path, path, *options, config=None):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.zeros((SIZE, SIZE, 3), np.uint8))
    jsonl = tmp_path / f"out{len(list(tmp_path.iterdir()))}.jsonl"
    if config is not None:
        toml = tmp_path / "pipeline.toml"
        toml.write_text(f'source = "{image}"\nsinks = ["jsonl://{jsonl}"]\n\n[[model]]\nname = "pose"\n'
                        f'path = "{path}"\n{config}\n')
        proc = cli("run", "--config", str(toml), "--quiet")
    else:
        proc = cli("run", "--model", str(path), "--source", str(image), "--sink", f"jsonl://{jsonl}", "--quiet",
                   *options)
    return proc, ([json.loads(line) for line in jsonl.read_text().splitlines()] if proc.returncode == 0 else None)


def test_max_poses_and_pose_score_are_options_of_the_cli_and_the_toml(posenet_file, tmp_path, cli):
    path, _ = posenet_file
    proc, (record,) = _poses(cli, tmp_path, path)
    scores = [p["score"] for p in record["poses"]]
    assert len(scores) == 2, proc.stderr
    proc, (record,) = _poses(cli, tmp_path, path, "--max-poses", "1")
    assert [p["score"] for p in record["poses"]] == [scores[0]], proc.stderr  # the better one is kept
    between = (scores[0] + scores[1]) / 2
    proc, (record,) = _poses(cli, tmp_path, path, "--pose-score", f"{between}")
    assert [p["score"] for p in record["poses"]] == [scores[0]], proc.stderr
    proc, records = _poses(cli, tmp_path, path, config="max_poses = 1")
    assert proc.returncode == 0, proc.stderr
    models = records[0].get("models", {}).get("pose", records[0])  # one model: its poses at the top level
    assert len(models["poses"]) == 1, records[0]
    for bad, words in ((("--max-poses", "0"), "--max-poses"), (("--pose-score", "1.5"), "--pose-score")):
        proc, _ = _poses(cli, tmp_path, path, *bad)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    proc, _ = _poses(cli, tmp_path, path, config="max_poses = 0")
    assert proc.returncode == 2 and "max_poses" in proc.stderr, proc.stderr


def test_coral_decoder_op_is_refused_by_name(tmp_path, cli):
    path = tmp_path / "posenet_with_decoder.tflite"
    path.write_bytes(build_model([1, 33, 33, 3], {"poses": np.zeros((1, 10, 17, 2), np.float32)},
                                 custom_op="PosenetDecoderOp"))
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.zeros((40, 40, 3), np.uint8))
    proc = cli("run", "--model", str(path), "--source", str(image), "--task", "pose", "--quiet")
    assert proc.returncode == 2
    assert "custom op 'PosenetDecoderOp'" in proc.stderr and "without the decoder" in proc.stderr
    assert "Traceback" not in proc.stderr
