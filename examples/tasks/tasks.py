"""Bundled classification tasks to measure compression on, from data that packages ship (no
download at run time):

    digits             scikit-learn's 8x8 digits read row by row: T 8, 8 features, 10
                       classes; 1,797 images (the split of examples/lstm_classifier)
    japanese_vowels    aeon 1.6's JapaneseVowels: 9 speakers saying /ae/, 12 LPC cepstrum
                       coefficients per frame, 7..29 frames; 270 train, 370 test
    basic_motions      aeon 1.6's BasicMotions: accelerometer and gyroscope (6 channels),
                       100 steps, 4 activities; 40 train, 40 test

Variable length (japanese_vowels): every sequence is left-padded with zero frames to the
longest length in the set (T = 29), so its real last frame is the model's last step, which
the classifiers read. Features are standardised per channel with the training split's mean
and standard deviation (over real frames). A validation split is cut from the training
split with a fixed seed (15%, at least 4 sequences): fine-tuning and early stopping use it,
the test split is only measured.

    from tasks import load
    t = load("japanese_vowels")      # t.x_train [N, T, I] float32, t.y_train [N] int64, ...
    t.save(folder)                   # train.npz, val.npz, test.npz (rnngen compress --eval)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

F32 = np.float32
TASKS = ("digits", "japanese_vowels", "basic_motions")


@dataclass
class Task:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def seq_len(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def features(self) -> int:
        return int(self.x_train.shape[2])

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for split in ("train", "val", "test"):
            np.savez(folder / f"{split}.npz", x=getattr(self, f"x_{split}"),
                     y=getattr(self, f"y_{split}"))


def _split_val(x: np.ndarray, y: np.ndarray, seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(x))
    nv = max(4, int(round(0.15 * len(x))))
    v, t = order[:nv], order[nv:]
    return x[t], y[t], x[v], y[v]


def _labels(y_train: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    names = sorted(set(y_train.tolist()) | set(y_test.tolist()))
    idx = {n: k for k, n in enumerate(names)}
    return (np.array([idx[v] for v in y_train], np.int64),
            np.array([idx[v] for v in y_test], np.int64), len(names))


def _standardise(train: list[np.ndarray], *others: list[np.ndarray]
                 ) -> list[list[np.ndarray]]:
    """Per-channel mean and std of the training frames; each sequence is [T_k, I]."""
    frames = np.concatenate(train, axis=0)
    mu, sd = frames.mean(axis=0), frames.std(axis=0) + 1e-6
    return [[((s - mu) / sd).astype(F32) for s in seqs] for seqs in (train, *others)]


def _left_pad(seqs: list[np.ndarray], T: int) -> np.ndarray:
    out = np.zeros((len(seqs), T, seqs[0].shape[1]), F32)
    for k, s in enumerate(seqs):
        out[k, T - len(s):] = s
    return out


def load(name: str) -> Task:
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images / 16.0).astype(F32)  # [N, 8 rows, 8 pixels]
        y = d.target.astype(np.int64)
        order = np.random.default_rng(0).permutation(len(x))  # examples/lstm_classifier's
        cut = int(0.8 * len(x))
        xtr, ytr, xte, yte = x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]
        xtr, ytr, xv, yv = _split_val(xtr, ytr)
        return Task(name, xtr, ytr, xv, yv, xte, yte, 10)
    if name == "japanese_vowels":
        from aeon.datasets import load_japanese_vowels

        a, ya = load_japanese_vowels(split="train")
        b, yb = load_japanese_vowels(split="test")
        tr, te = _standardise([s.T for s in a], [s.T for s in b])  # [12, T_k] -> [T_k, 12]
        T = max(len(s) for s in tr + te)
        ytr, yte, C = _labels(np.asarray(ya), np.asarray(yb))
        xtr, ytr, xv, yv = _split_val(_left_pad(tr, T), ytr)
        return Task(name, xtr, ytr, xv, yv, _left_pad(te, T), yte, C)
    if name == "basic_motions":
        from aeon.datasets import load_basic_motions

        a, ya = load_basic_motions(split="train")
        b, yb = load_basic_motions(split="test")
        tr, te = _standardise([s.T for s in a], [s.T for s in b])
        ytr, yte, C = _labels(np.asarray(ya), np.asarray(yb))
        xtr, ytr, xv, yv = _split_val(np.stack(tr), ytr)
        return Task(name, xtr, ytr, xv, yv, np.stack(te), yte, C)
    raise ValueError(f"unknown task {name!r}: expected one of {', '.join(TASKS)}")
