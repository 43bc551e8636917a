"""Host-side export: optimise, convert to TFLite per target, embed metadata, score through `edge`."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
