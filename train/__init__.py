"""Data and training stage: DCASE-layout datasets, log-mel features, KD training (tf_keras)."""
