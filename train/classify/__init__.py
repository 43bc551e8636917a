"""Image classification: folder-per-class data, a MobileNetV2-style classifier, top-1/top-5."""
