"""Config sections of the data and training stage."""

from __future__ import annotations

from dataclasses import dataclass

from acdeploy.config import field


@dataclass
class DataConfig:
    path: str = field("", help="DCASE-layout dataset directory (meta.csv, evaluation_setup/, audio/); empty = make the synthetic one")
    clips_per_class: int = field(100, help="synthetic data: clips per scene class")
    seconds: float = field(1.0, help="synthetic data: clip length in seconds")
    sample_rate: int = field(44100, help="synthetic data: sample rate of the written WAVs")
    seed: int = field(0, help="synthetic data: generator seed (same seed, same bytes)")

    def check(self):
        if self.clips_per_class < 1:
            raise ValueError(f"clips_per_class: must be >= 1, got {self.clips_per_class}")
        if self.seconds <= 0:
            raise ValueError(f"seconds: must be > 0, got {self.seconds}")
        if self.sample_rate < 8000:
            raise ValueError(f"sample_rate: must be >= 8000 Hz, got {self.sample_rate}")


@dataclass
class FeatureConfig:
    sample_rate: int = field(44100, help="audio is resampled to this rate before the STFT")
    n_fft: int = field(2048, help="FFT size")
    win_length: int = field(1764, help="window length in samples (40 ms at 44.1 kHz, as the DCASE baseline)")
    hop_length: int = field(882, help="hop in samples (20 ms at 44.1 kHz: 51 frames per second)")
    n_mels: int = field(40, help="mel bands")
    fmin: float = field(0.0, help="lowest mel band edge (Hz)")
    fmax: float | None = field(None, help="highest mel band edge (Hz); null = sample_rate / 2")
    window: str = field("hamming", help="STFT window name (scipy.signal.get_window)")
    log_offset: float = field(1e-6, help="log(mel + log_offset)")
    workers: int = field(0, help="parallel extraction processes; 0 = one per CPU core")

    def check(self):
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length: {self.win_length} is larger than n_fft {self.n_fft}")
        if self.n_mels < 1 or self.hop_length < 1:
            raise ValueError("n_mels and hop_length: must be >= 1")
        if self.fmax is not None and self.fmax > self.sample_rate / 2:
            raise ValueError(f"fmax: {self.fmax} Hz is above Nyquist ({self.sample_rate / 2} Hz)")
