"""acdeploy: Acoustic Lottery (KD + lottery-ticket pruning + int8) as an embedded toolchain."""

import os

# TF-MOT 0.8 only works with Keras 2; this must be set before TensorFlow is first imported,
# and importing any acdeploy module happens before that.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter hides our one-line messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow's CPU convolutions through Eigen instead of oneDNN: oneDNN's backward-weights kernel
# for strided 1x1 convolutions with few input channels writes past its workspace (oneDNN issue
# 6035): with TensorFlow 2.21 a batch of 5, 7, 9 or 13 crashes the residual teacher's training
# on two threads, and on other CPUs the same bug returns wrong gradients without a crash. A user
# who sets the variable keeps their choice (README, Determinism).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
