"""Compression stage: lottery-ticket pruning on TF-MOT schedules, full-integer int8 TFLite."""
