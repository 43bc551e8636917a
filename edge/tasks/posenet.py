"""Multi-person decoding of PoseNet-style outputs (heatmaps, offsets, forward and backward displacements).

The layout is the one PoseNet (TensorFlow.js and its TFLite export) uses, for models made by other tools:

* ``heatmaps`` ``[1, H, W, 17]``: keypoint logits (``activation="sigmoid"``) or scores.
* ``offsets`` ``[1, H, W, 34]``: channel ``k`` is dy and channel ``17 + k`` is dx of keypoint ``k``, in input
  pixels, measured from the cell's grid point ``(i * stride, j * stride)``.
* ``displacements_fwd`` / ``displacements_bwd`` ``[1, H, W, 32]``: for edge ``e`` of ``POSE_CHAIN`` channel
  ``e`` is dy and ``16 + e`` is dx, in input pixels; forward points parent -> child, backward child -> parent.
* or both in one ``mid_offsets`` ``[1, H, W, 64]`` (the PersonLab naming: heatmaps, short offsets, mid
  offsets), laid out as Coral's decoder reads it: forward dy, forward dx, backward dy, backward dx, 16 each.

The same files compiled with Coral's decoder inside end in the custom op ``PosenetDecoderOp`` (poses out,
not maps); that op exists only in Coral's runtime library, so the engine refuses such a file by name.

Decoding is greedy, strongest part first: every local maximum of every heatmap above ``score_threshold``
is a candidate root; a root too close (``nms_radius`` input pixels) to the same keypoint of a pose already
found is skipped; otherwise the pose is grown along the tree from the root, first towards the root of the
tree with the backward displacements, then outwards with the forward ones, each hop refined with the target
keypoint's offsets. A pose's score is the mean over all keypoints of the scores of those keypoints that do
not coincide with the same keypoint of an earlier pose. This is tfjs-models posenet's decodeMultiplePoses
(score threshold 0.5, NMS radius 20, local maximum radius 1, 2 offset refinement steps, JavaScript's
round-half-up for grid indices).
"""

from __future__ import annotations

import numpy as np

from ..errors import MetadataError
from .pose_decode import NUM_KEYPOINTS, _drop_batch, sigmoid

KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# (parent, child) keypoint ids, in PoseNet's edge order: displacement channel e belongs to POSE_CHAIN[e].
POSE_CHAIN = (
    (0, 1), (1, 3), (0, 2), (2, 4), (0, 5), (5, 7), (7, 9), (5, 11), (11, 13), (13, 15),
    (0, 6), (6, 8), (8, 10), (6, 12), (12, 14), (14, 16),
)


def _local_maxima(scores: np.ndarray, threshold: float, radius: int) -> list[tuple[float, int, int, int]]:
    """(score, keypoint, row, col) of every cell that is >= threshold and the maximum of its window."""
    h, w, k = scores.shape
    padded = np.pad(scores, ((radius, radius), (radius, radius), (0, 0)), constant_values=-np.inf)
    window_max = np.full_like(scores, -np.inf)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            window_max = np.maximum(window_max, padded[dy:dy + h, dx:dx + w])
    rows, cols, kps = np.nonzero((scores >= threshold) & (scores >= window_max))
    found = [(float(scores[r, c, p]), int(p), int(r), int(c)) for r, c, p in zip(rows, cols, kps)]
    found.sort(key=lambda t: -t[0])
    return found


def _nearest_cell(point: np.ndarray, stride: float, h: int, w: int) -> tuple[int, int]:
    """Grid cell (row, col) nearest to an input-pixel point (x, y), clamped to the grid."""
    row = int(np.clip(np.floor(point[1] / stride + 0.5), 0, h - 1))  # Math.round: halves go up
    col = int(np.clip(np.floor(point[0] / stride + 0.5), 0, w - 1))
    return row, col


def _cell_point(row: int, col: int, keypoint: int, offsets: np.ndarray, stride: float) -> np.ndarray:
    k = offsets.shape[2] // 2
    return np.array([col * stride + offsets[row, col, k + keypoint], row * stride + offsets[row, col, keypoint]],
                    dtype=np.float32)


def _traverse(edge: int, source: np.ndarray, target: int, scores: np.ndarray, offsets: np.ndarray,
              displacements: np.ndarray, stride: float, refine_steps: int) -> tuple[np.ndarray, float]:
    h, w, _ = scores.shape
    n_edges = displacements.shape[2] // 2
    row, col = _nearest_cell(source, stride, h, w)
    point = source + np.array([displacements[row, col, n_edges + edge], displacements[row, col, edge]], np.float32)
    for _ in range(refine_steps):
        row, col = _nearest_cell(point, stride, h, w)
        point = _cell_point(row, col, target, offsets, stride)
    row, col = _nearest_cell(point, stride, h, w)
    return point, float(scores[row, col, target])


def _grow_pose(root_kp: int, root_point: np.ndarray, root_score: float, scores, offsets, fwd, bwd,
               stride: float, refine_steps: int) -> np.ndarray:
    pose = np.full((scores.shape[2], 3), np.nan, dtype=np.float32)
    pose[root_kp] = (root_point[0], root_point[1], root_score)
    for edge in range(len(POSE_CHAIN) - 1, -1, -1):  # towards the tree's root: child -> parent
        parent, child = POSE_CHAIN[edge]
        if not np.isnan(pose[child, 2]) and np.isnan(pose[parent, 2]):
            point, score = _traverse(edge, pose[child, :2], parent, scores, offsets, bwd, stride, refine_steps)
            pose[parent] = (point[0], point[1], score)
    for edge, (parent, child) in enumerate(POSE_CHAIN):  # outwards: parent -> child
        if not np.isnan(pose[parent, 2]) and np.isnan(pose[child, 2]):
            point, score = _traverse(edge, pose[parent, :2], child, scores, offsets, fwd, stride, refine_steps)
            pose[child] = (point[0], point[1], score)
    return pose


def _check_shapes(heatmaps, offsets, fwd, bwd) -> None:
    h, w, k = heatmaps.shape
    if k != NUM_KEYPOINTS:
        raise MetadataError(f"PoseNet heatmaps must have {NUM_KEYPOINTS} channels, got shape {list(heatmaps.shape)}")
    expected = {"offsets": (offsets, 2 * k), "displacements_fwd": (fwd, 2 * len(POSE_CHAIN)),
                "displacements_bwd": (bwd, 2 * len(POSE_CHAIN))}
    for name, (array, channels) in expected.items():
        if array.shape != (h, w, channels):
            raise MetadataError(f"PoseNet {name} must have shape [1, {h}, {w}, {channels}] to match the heatmaps, "
                                f"got {list(array.shape)}")


def split_mid_offsets(mid_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[1, H, W, 64]`` mid offsets -> (forward, backward) displacements ``[1, H, W, 32]`` each."""
    mid = np.asarray(mid_offsets, dtype=np.float32)
    n = 2 * len(POSE_CHAIN)
    if mid.shape[-1] != 2 * n:
        raise MetadataError(f"PoseNet mid offsets must have {2 * n} channels (forward dy, dx, backward dy, dx), "
                            f"got shape {list(mid.shape)}")
    return mid[..., :n], mid[..., n:]


def recognise(outputs: list[tuple[str, tuple[int, ...]]]) -> dict[str, str] | None:
    """Output roles of a PoseNet file from its outputs' (name, shape), or None when it is not one.

    Heatmaps have 17 channels, short offsets 34, mid offsets 64; or two 32-channel displacement maps,
    told apart by ``fwd``/``bwd`` in their names, else taken in tfjs order (forward first). All share H x W.
    """
    if len(outputs) not in (3, 4) or any(len(shape) != 4 or shape[0] != 1 for _, shape in outputs):
        return None
    if len({shape[1:3] for _, shape in outputs}) != 1:
        return None
    by_channels: dict[int, list[str]] = {}
    for name, shape in outputs:
        by_channels.setdefault(shape[3], []).append(name)
    k = NUM_KEYPOINTS
    if len(by_channels.get(k, ())) != 1 or len(by_channels.get(2 * k, ())) != 1:
        return None
    roles = {by_channels[k][0]: "heatmaps", by_channels[2 * k][0]: "offsets"}
    n = 2 * len(POSE_CHAIN)
    if len(outputs) == 3 and len(by_channels.get(2 * n, ())) == 1:
        roles[by_channels[2 * n][0]] = "mid_offsets"
        return roles
    pair = by_channels.get(n, [])
    if len(outputs) == 4 and len(pair) == 2:
        fwd = [p for p in pair if "fwd" in p.lower() or "forward" in p.lower()]
        bwd = [p for p in pair if "bwd" in p.lower() or "backward" in p.lower()]
        first, second = (fwd[0], bwd[0]) if len(fwd) == 1 and len(bwd) == 1 and fwd != bwd else pair
        roles[first], roles[second] = "displacements_fwd", "displacements_bwd"
        return roles
    return None


def output_stride_for(input_size: tuple[int, int], grid_size: tuple[int, int]) -> float:
    """PoseNet's stride: grid points sit at 0, s, 2s, ... (input 257, grid 9 -> 32; grid 17 -> 16)."""
    (width, _), (grid_w, _) = input_size, grid_size
    if grid_w < 2:
        raise MetadataError(f"PoseNet heatmaps need at least 2 columns to fix the output stride, got {grid_w}")
    return (width - 1) / (grid_w - 1)


def decode_posenet(
    heatmaps: np.ndarray,
    offsets: np.ndarray,
    displacements_fwd: np.ndarray,
    displacements_bwd: np.ndarray,
    *,
    stride: float,
    activation: str = "sigmoid",
    score_threshold: float = 0.5,
    nms_radius: float = 20.0,
    max_poses: int = 10,
    local_max_radius: int = 1,
    refine_steps: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode all people: returns ``(poses (N, 17, 3) x, y, score in input pixels, pose scores (N,))``."""
    hm = _drop_batch(heatmaps, 3, "heatmaps")
    off = _drop_batch(offsets, 3, "offsets")
    fwd = _drop_batch(displacements_fwd, 3, "displacements_fwd")
    bwd = _drop_batch(displacements_bwd, 3, "displacements_bwd")
    _check_shapes(hm, off, fwd, bwd)
    if activation == "sigmoid":
        hm = sigmoid(hm)
    elif activation != "none":
        raise MetadataError(f"unknown heatmap activation {activation!r}; expected 'none' or 'sigmoid'")
    poses: list[np.ndarray] = []
    pose_scores: list[float] = []
    radius_sq = float(nms_radius) ** 2
    for score, kp, row, col in _local_maxima(hm, score_threshold, local_max_radius):
        if len(poses) >= max_poses:
            break
        root = _cell_point(row, col, kp, off, stride)
        if any(np.sum((p[kp, :2] - root) ** 2) <= radius_sq for p in poses):
            continue
        pose = _grow_pose(kp, root, score, hm, off, fwd, bwd, stride, refine_steps)
        unique = np.ones(len(pose), dtype=bool)
        for earlier in poses:
            unique &= np.sum((earlier[:, :2] - pose[:, :2]) ** 2, axis=1) > radius_sq
        pose_scores.append(float(np.sum(pose[unique, 2]) / len(pose)))
        poses.append(pose)
    if not poses:
        return np.zeros((0, NUM_KEYPOINTS, 3), np.float32), np.zeros(0, np.float32)
    return np.stack(poses).astype(np.float32), np.asarray(pose_scores, np.float32)
