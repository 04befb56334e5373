"""acdeploy: Acoustic Lottery (KD + lottery-ticket pruning + int8) as an embedded toolchain."""

import os

# TF-MOT 0.8 only works with Keras 2; this must be set before TensorFlow is first imported,
# and importing any acdeploy module happens before that.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter hides our one-line messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
