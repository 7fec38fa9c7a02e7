"""Scene pixel features of one small decoded image: CIELAB colour histogram, colour layout, brightness, colour shares.

Content-only (no metadata), so they are cached by content hash. The scan computes them in its hashing workers from
the same decode that gives the pHash (phash.py) and stores them in the index's scene cache; scene analysis
(scene.py) then reads them instead of decoding every photo a second time, and computes them itself (through
the same phash.py decode) only for photos the scan did not.
"""
from __future__ import annotations

from typing import Any

import numpy as np

LOCAL = "local"  # the analyzer whose cache these features fill (scene.LocalAnalyzer)
FEATURES_VERSION = 2  # bump when the pixel features change, so cached ones are recomputed
SIZE = 96  # features are computed on an upright thumbnail no larger than this a side
L_BINS, AB_BINS = 4, 6
GRID = 3

_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_D65 = np.array([0.95047, 1.0, 1.08883])


def _srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_LINEAR = _srgb_to_linear(np.arange(256, dtype=np.uint8))  # per 8-bit value: a lookup is 10x faster than pow()


def _lab_f(t: np.ndarray) -> np.ndarray:
    f = np.cbrt(t)
    dark = t <= 216 / 24389  # the linear toe: few pixels, so only those are computed again
    if dark.any():
        f[dark] = (24389 / 27 * t[dark] + 16) / 116
    return f


def _linear_to_lab(lin: np.ndarray) -> np.ndarray:
    """(..., 3) linear sRGB to CIELAB (D65): distances in Lab follow perceived colour difference."""
    f = _lab_f(lin @ _RGB_TO_XYZ.T / _D65)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def _lightness(lin: np.ndarray) -> np.ndarray:
    """L* alone: _linear_to_lab(lin)[..., 0], the same numbers, without computing a* and b*."""
    return 116 * _lab_f((lin @ _RGB_TO_XYZ.T)[..., 1] / _D65[1]) - 16


def _exposure_normalised(lin: np.ndarray) -> np.ndarray:
    """Scale linear light so the mean luminance is middle grey: two exposures of one scene then share colours.

    Without this, a third of a stop moves most pixels into other lightness bins and one event's photos look
    as different as two events'.
    """
    mean_y = float((lin @ _RGB_TO_XYZ[1]).mean())
    return np.minimum(np.maximum(lin * (0.18 / max(mean_y, 1e-4)), 0.0), 1.0)  # np.clip, without its overhead


def _bin(x: np.ndarray, bins: int) -> np.ndarray:
    """Bin indexes 0..bins-1 (np.clip of the truncated values, without its overhead)."""
    return np.minimum(np.maximum(x.astype(int), 0), bins - 1)


def pixel_features(rgb: np.ndarray) -> dict[str, Any]:
    """Content-only features of one decoded image ((h, w, 3) uint8): cacheable by content hash."""
    lin = _LINEAR[rgb]
    brightness = float(_lightness(lin).mean())
    lab = _linear_to_lab(_exposure_normalised(lin))
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    li = _bin(L / 100.0 * L_BINS, L_BINS)
    ai = _bin((a + 60.0) / 120.0 * AB_BINS, AB_BINS)
    bi = _bin((b + 60.0) / 120.0 * AB_BINS, AB_BINS)
    bins = (((li * AB_BINS) + ai) * AB_BINS + bi).ravel()
    hist = np.bincount(bins, minlength=L_BINS * AB_BINS * AB_BINS).astype(np.float64)
    hist /= max(hist.sum(), 1.0)
    h, w = L.shape
    layout = []
    for r in range(GRID):
        for c in range(GRID):
            cell = lab[r * h // GRID:(r + 1) * h // GRID, c * w // GRID:(c + 1) * w // GRID].reshape(-1, 3)
            layout.extend(cell.mean(axis=0))
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a)) % 360.0
    vivid = chroma > 15.0
    top = lab[: h // 3]  # exposure-normalised: a sky is bright relative to the rest of the frame
    return {
        "v": FEATURES_VERSION,
        "histogram": [round(x, 5) for x in hist.tolist()],
        "layout": [round(float(x), 2) for x in layout],
        "brightness": round(brightness, 2),
        "green": round(float((vivid & (hue > 95) & (hue < 165)).mean()), 4),
        "blue": round(float((vivid & (hue > 200) & (hue < 290)).mean()), 4),
        "warm": round(float((vivid & ((hue < 90) | (hue > 330))).mean()), 4),
        "sky_top": round(float(((top[..., 2] < -8) & (top[..., 0] > 45)).mean()), 4),
    }
