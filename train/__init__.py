"""Host-side training (TensorFlow + tf_keras). Sets TF_USE_LEGACY_KERAS before TensorFlow loads."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
