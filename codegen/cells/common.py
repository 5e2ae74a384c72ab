"""Arithmetic the cells share: clipping, compile-time scalar gates, int16 bias quantization."""

from __future__ import annotations

import numpy as np

from .. import cgen, quant

F32 = np.float32


def clip_f32(v: np.ndarray, clip: float | None) -> np.ndarray:
    return v if clip is None else np.clip(v, F32(-clip), F32(clip))


def clip_s16(v: np.ndarray, clip: int) -> np.ndarray:
    return v if clip == 0 else np.clip(v, -clip, clip)


def sigmoid_const(v: float) -> np.float32:
    """A cell's scalar gate, computed once at compile time (in float64, then rounded)."""
    return F32(1.0 / (1.0 + np.exp(-float(v))))


def c_sigmoid_const(v: float) -> str:
    """The C literal of the same value."""
    return cgen.c_float(float(sigmoid_const(v)))


def q12(v: np.ndarray) -> np.ndarray:
    """A float bias as int16 Q3.12 (the gate pre-activations' domain)."""
    return quant.sat16(np.round(v.astype(np.float64) * 4096.0)).astype(np.int16)


def at(base: str, off: int) -> str:
    return base if off == 0 else f"{base} + {off}"
