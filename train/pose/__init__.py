"""Single-person pose (17 COCO keypoints): COCO keypoints data, synthetic stick figures, a MoveNet-like model.

Multi-person is top-down: the detector's person boxes are cropped (square, 1.25x the box) and each crop goes
through this single-person model; training crops the ground-truth boxes the same way.
"""
