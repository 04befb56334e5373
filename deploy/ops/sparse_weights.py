"""Index-compressed int8 weights for the zero-skipping kernels (firmware_stub/kernels/
ac_conv_sparse.c, ac_fc_sparse.c): only the non-zero weights of a layer, laid out for the
kernels' inner loops.

- CONV_2D: per output channel its non-zeros in pairs (an odd count padded with one entry of
  weight 0), each pair 4 bytes: two uint8 tap indices in the channel's [k_h][k_w][in_c] filter,
  then the two int8 values, in one stream the kernel walks with one pointer; the number of pairs
  rides in the channel's requantisation row (the shift word: r | pairs << 8), so the layout costs
  2 bytes per non-zero (plus at most 2 of padding per channel) and nothing per channel besides;
  it exists for layers with at most 256 taps per channel (every 1x1 conv up to 256 input
  channels, a 3x3 stem). One index byte serves two output pixels in the kernel.
- FULLY_CONNECTED: per output row a uint16 count of entries, each a uint8 step from the previous
  entry's input position and an int8 value; a gap over 255 is bridged by entries of weight 0, so
  any input depth fits.

A weight is skipped when it is exactly 0 (the weights are symmetric: zero point 0), which adds
nothing to TFLM's sum; biases and folded input offsets are computed by the emitters over the
same weights, so they are exact."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_TAPS = 256  # AC_SPARSE_MAX_TAPS in ac_conv_sparse.c: the uint8 tap index
MAX_COUNT = 65535  # uint16 counts


@dataclass(frozen=True)
class SparseRows:
    """One layer's non-zeros: `count[row]` entries of (`index`, `value`) per output row."""

    count: np.ndarray  # uint16 [rows]
    index: np.ndarray  # uint8: tap index (conv) or step from the previous entry (fully connected)
    value: np.ndarray  # int8

    @property
    def nbytes(self) -> int:
        return 2 * int(self.count.size) + int(self.index.size) + int(self.value.size)


def nonzeros(w: np.ndarray) -> int:
    return int(np.count_nonzero(w))


def encode_conv(w: np.ndarray) -> SparseRows | None:
    """[out_c][k_h][k_w][in_c] int8 filter -> per channel pairs of (tap index, value), an odd count
    padded with (0, 0); count = pairs per channel. None when a channel has more than MAX_TAPS taps."""
    rows = np.asarray(w).reshape(int(w.shape[0]), -1)
    if rows.shape[1] > MAX_TAPS:
        return None
    count, index, value = [], [], []
    for r in rows:
        k = np.flatnonzero(r)
        v = r[k]
        if k.size % 2:
            k, v = np.append(k, 0), np.append(v, 0)
        count.append(k.size // 2)
        index.append(k)
        value.append(v)
    return SparseRows(np.asarray(count, np.uint16), np.concatenate(index).astype(np.uint8),
                      np.concatenate(value).astype(np.int8))


def conv_entries(s: SparseRows) -> np.ndarray:
    """The kernel's entry stream: per pair the bytes (index, index, value, value), as uint8."""
    idx = s.index.reshape(-1, 2).astype(np.int64)
    val = s.value.reshape(-1, 2).astype(np.int64) & 0xFF
    return np.concatenate([idx, val], axis=1).reshape(-1)


def conv_bytes(s: SparseRows) -> int:
    """Flash of the conv layout: the entry stream (the pair counts ride in the requantisation table)."""
    return int(s.index.size) + int(s.value.size)


def encode_fc(w: np.ndarray) -> SparseRows | None:
    """[out][in] int8 weights -> per row uint8 steps and values (weight-0 entries bridge gaps over
    255); None when a row would need more than MAX_COUNT entries."""
    rows = np.asarray(w).reshape(int(w.shape[0]), -1)
    count, steps, value = [], [], []
    for r in rows:
        pos, n = 0, 0
        for k in np.flatnonzero(r):
            gap = int(k) - pos
            while gap > 255:
                steps.append(255)
                value.append(0)
                gap -= 255
                n += 1
            steps.append(gap)
            value.append(int(r[k]))
            pos = int(k)
            n += 1
        if n > MAX_COUNT:
            return None
        count.append(n)
    return SparseRows(np.asarray(count, np.uint16), np.asarray(steps, np.uint8), np.asarray(value, np.int8))


def decode_conv(s: SparseRows, taps: int) -> np.ndarray:
    """The dense [rows][taps] filter back (the tests' round trip)."""
    out = np.zeros((s.count.size, taps), np.int8)
    start = 0
    for r, n in enumerate(s.count):
        idx, val = s.index[start:start + 2 * n], s.value[start:start + 2 * n]
        out[r, idx[val != 0]] = val[val != 0]
        start += 2 * int(n)
    return out


def decode_fc(s: SparseRows, depth: int) -> np.ndarray:
    out = np.zeros((s.count.size, depth), np.int8)
    start = 0
    for r, n in enumerate(s.count):
        pos = np.cumsum(s.index[start:start + n].astype(np.int64))
        vals = s.value[start:start + n]
        out[r, pos[vals != 0]] = vals[vals != 0]
        start += int(n)
    return out


def tflm_prune_bytes(weights: int, nonzero: int) -> int:
    """TFLM's DECODE "prune" format: a 1-bit mask per weight plus the packed non-zero int8 values."""
    return (weights + 7) // 8 + nonzero
