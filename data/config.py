"""Config sections of the data stage: `data` (the dataset), `features` (log-mel) and `augment`."""

from __future__ import annotations

from dataclasses import dataclass

from acdeploy.config import field, from_dict
from acdeploy.schema import register_section


@dataclass
class DataConfig:
    path: str = field("", help="DCASE-layout dataset directory (meta.csv, evaluation_setup/, audio/); empty = make the synthetic one")
    clips_per_class: int = field(100, help="synthetic data: WAV files per scene class, all devices and splits together")
    seconds: float = field(1.0, help="clip length in seconds: the synthetic clips' length, and the audio every clip's features cover (x features.sample_rate samples; longer clips are cut to it, shorter ones follow features.short_clips); TAU 2020 Mobile: 10, TAU 2022 Mobile: 1")
    sample_rate: int = field(44100, help="synthetic data: sample rate of the written WAVs")
    seed: int = field(0, help="synthetic data: generator seed (same seed, same bytes)")
    difficulty: float = field(0.5, help="synthetic data: 0 = well separated classes and devices, 1 = heavy overlap")
    synth_workers: int = field(0, help="synthetic data: parallel writer processes; 0 = one per CPU core")

    def check(self):
        if self.clips_per_class < 1:
            raise ValueError(f"clips_per_class: must be >= 1, got {self.clips_per_class}")
        if self.seconds <= 0:
            raise ValueError(f"seconds: must be > 0, got {self.seconds}")
        if self.sample_rate < 8000:
            raise ValueError(f"sample_rate: must be >= 8000 Hz, got {self.sample_rate}")
        if not 0.0 <= self.difficulty <= 1.0:
            raise ValueError(f"difficulty: must be in [0, 1], got {self.difficulty}")


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
    short_clips: str = field(
        "pad", choices=("pad", "error"), key_neutral=True,
        help="a clip shorter than data.seconds: pad = zero-pad it at the end, as DCASE tooling does "
             "(a clip a few samples short after resampling must not stop a 230k-clip run; the count is "
             "printed and kept in the cache's info.json); error = refuse it, naming the file")
    workers: int = field(0, help="parallel extraction processes; 0 = one per CPU core")

    def check(self):
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length: {self.win_length} is larger than n_fft {self.n_fft}")
        if self.n_mels < 1 or self.hop_length < 1:
            raise ValueError("n_mels and hop_length: must be >= 1")
        if self.fmax is not None and self.fmax > self.sample_rate / 2:
            raise ValueError(f"fmax: {self.fmax} Hz is above Nyquist ({self.sample_rate / 2} Hz)")


@dataclass
class AugmentConfig:
    """Training-time augmentations on log-mel batches (data/augment.py), each switchable."""

    mixup: bool = field(True, help="mixup: convex combinations of clip pairs and of their soft labels")
    mixup_alpha: float = field(0.3, help="mixup: Beta(alpha, alpha) for the mixing weight")
    specaugment: bool = field(True, help="SpecAugment: time and frequency masks")
    freq_masks: int = field(1, help="SpecAugment: frequency masks per clip")
    freq_mask_width: int = field(6, help="SpecAugment: largest frequency mask, in mel bands")
    time_masks: int = field(1, help="SpecAugment: time masks per clip")
    time_mask_width: int = field(6, help="SpecAugment: largest time mask, in frames")
    device_eq: bool = field(True, help="device response simulation: random EQ curve over mel bands on reference-device clips")
    device_eq_p: float = field(0.6, help="device EQ: probability per reference-device clip")
    device_eq_db: float = field(6.0, help="device EQ: largest boost/cut of one EQ bump or roll-off, in dB")
    reference_device: str = field("a", help="device EQ and spectrum correction: the device whose clips get simulated responses")
    spectrum_correction: bool = field(False, help="spectrum correction (Hu et al.): add a paired device's mean log mel-power ratio to reference-device clips; profiles from the training rows, saved as device_profiles.json")
    spectrum_correction_p: float = field(0.4, help="spectrum correction: probability per reference-device clip")
    spectrum_correction_min_scale: float = field(0.5, help="spectrum correction: the profile is scaled by uniform(min_scale, 1) (in-between devices); 1 = exact profiles")
    freq_mixstyle: bool = field(True, help="Freq-MixStyle: mix per-frequency mean/std between clips")
    mixstyle_p: float = field(0.4, help="Freq-MixStyle: probability per batch")
    mixstyle_alpha: float = field(0.3, help="Freq-MixStyle: Beta(alpha, alpha) for the mixing weight")
    gain: bool = field(True, help="random gain per clip")
    gain_db: float = field(3.0, help="random gain: uniform in [-gain_db, +gain_db] dB")
    time_shift: bool = field(True, help="random circular time shift per clip")
    shift_frames: int = field(4, help="time shift: uniform in [-shift_frames, +shift_frames] frames")

    def check(self):
        for key in ("mixup_alpha", "mixstyle_alpha"):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key}: must be > 0, got {getattr(self, key)}")
        for key in ("device_eq_p", "mixstyle_p", "spectrum_correction_p"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"{key}: must be a probability in [0, 1], got {getattr(self, key)}")
        for key in ("freq_masks", "freq_mask_width", "time_masks", "time_mask_width", "shift_frames"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key}: must be >= 0, got {getattr(self, key)}")
        for key in ("device_eq_db", "gain_db"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key}: must be >= 0 dB, got {getattr(self, key)}")
        if not 0.0 <= self.spectrum_correction_min_scale <= 1.0:
            raise ValueError(f"spectrum_correction_min_scale: must be in [0, 1], got {self.spectrum_correction_min_scale}")


def trained_features(saved: dict | None, where: str) -> FeatureConfig | None:
    """The FeatureConfig a model was trained with (model_info.json's feature_config; keys this
    version does not know are dropped), or None when the model carries none."""
    if not saved:
        return None
    known = {k: v for k, v in saved.items() if k in FeatureConfig.__dataclass_fields__}
    return from_dict(FeatureConfig, known, where=where, prefix="features")


register_section("data", DataConfig, "dataset: a DCASE-layout directory or the synthetic one")
register_section("features", FeatureConfig, "log-mel feature settings (travel with every model)")
register_section("augment", AugmentConfig, "training-time augmentations on log-mel batches")
