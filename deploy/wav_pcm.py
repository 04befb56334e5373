"""16-bit PCM WAV files as the firmware's front end takes them: mono, 16-bit, at the model's rate.

The device gets raw samples from a microphone, so nothing here resamples, mixes down or converts:
anything else is a one-line DataError naming the file and what is wrong with it.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from acdeploy.errors import DataError

_FORMATS = {3: "32-bit float", 6: "A-law", 7: "mu-law", 0xFFFE: "WAVE_FORMAT_EXTENSIBLE"}


def read_pcm16(path: str | Path, sample_rate: int) -> np.ndarray:
    """int16 samples of a mono 16-bit PCM WAV at `sample_rate`."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            data = w.readframes(frames)
    except FileNotFoundError:
        raise DataError(f"{path}: WAV file not found") from None
    except wave.Error as e:
        text = str(e)
        code = text.rsplit(":", 1)[-1].strip()
        what = _FORMATS.get(int(code), f"format {code}") if code.isdigit() else text
        raise DataError(f"{path}: not a 16-bit PCM WAV ({what}); the front end takes mono 16-bit PCM "
                        f"at {sample_rate} Hz") from None
    except (EOFError, OSError) as e:
        raise DataError(f"{path}: not a readable WAV file ({e or 'truncated header'})") from None
    if width != 2:
        raise DataError(f"{path}: {8 * width}-bit samples; the front end takes 16-bit PCM")
    if channels != 1:
        raise DataError(f"{path}: {channels} channels; the front end takes mono audio")
    if rate != sample_rate:
        raise DataError(f"{path}: {rate} Hz; the model was trained on {sample_rate} Hz audio (no resampling on the device)")
    if len(data) < frames * 2:
        raise DataError(f"{path}: truncated: the header announces {frames} samples, the file holds {len(data) // 2}")
    if frames == 0:
        raise DataError(f"{path}: no samples")
    return np.frombuffer(data[:frames * 2], dtype="<i2").astype(np.int16)


def clip_pcm(path: str | Path, spec) -> np.ndarray:
    """One clip for the front end: read_pcm16, then cut or zero-padded to spec.clip_samples as the
    training features treat clips (features.short_clips)."""
    from acdeploy.data.dataset import fit_length

    y = read_pcm16(path, spec.features.sample_rate)
    return fit_length(y, spec.clip_samples, spec.features.short_clips, Path(path)).astype(np.int16)
