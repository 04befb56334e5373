"""Data stage: DCASE-layout datasets, synthetic data, log-mel features and their cache, augmentation."""
