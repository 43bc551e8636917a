"""Semantic segmentation: VOC-layout mask folders, COCO polygons/RLE, synthetic shapes; an LR-ASPP head."""
