"""Host-side training (TensorFlow + tf_keras). Sets TF_USE_LEGACY_KERAS before TensorFlow loads."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
USER_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")  # train/device.py leaves a user's choice alone
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
