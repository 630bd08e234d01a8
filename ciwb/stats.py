"""The statistics analytics and cost share: bootstrap intervals, two-mode splits, change points.

Plain numpy on plain arrays, importing nothing of ciwb, so both `ciwb.analytics` and
`ciwb.cost` stand on it without knowing each other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "ChangePoint",
    "WarmCold",
    "bootstrap_interval",
    "detect_change_points",
    "geometric_mean_ratio",
    "log_mean_ratio",
    "median_difference",
    "split_warm_cold",
]


def bootstrap_interval(
    statistic: Callable[..., np.ndarray],
    samples: list[np.ndarray],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap: resample each sample independently, `statistic` vectorised over
    rows of the resampled matrices (shape resamples × n)."""
    rng = np.random.default_rng(seed)
    # int32 indices: the same numbers from the same stream as the default int64 draws
    # (numpy draws any range below 2**32 from 32-bit words), in half the memory.
    draws = [_integers(rng, len(s), (resamples, len(s))) for s in samples]
    if statistic is median_difference and not any(np.isnan(s).any() for s in samples):
        # The same values, without a copy of each resample partitioned row by row.
        # The draws are this call's own and read nowhere after: partitioned in place.
        values = _resampled_medians(samples[0], draws[0], consume=True) - _resampled_medians(
            *samples[1:], *draws[1:], consume=True
        )
    elif statistic is geometric_mean_ratio:
        # log(s)[d] is log(s[d]) element for element: one log per value, not per draw.
        logs = [np.log(s) for s in samples]
        values = log_mean_ratio(*(g[d] for g, d in zip(logs, draws, strict=True)))
    else:
        values = statistic(*(s[d] for s, d in zip(samples, draws, strict=True)))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


# Words per step of `_integers`: its temporaries stay in the CPU's cache.
_CHUNK = 1 << 18


def _integers(rng: np.random.Generator, n: int, shape: tuple[int, int]) -> np.ndarray:
    """`rng.integers(0, n, size=shape, dtype=np.int32)`: the same numbers, and `rng` left
    in the same state, in about 60% of its time.

    numpy draws each number by Lemire's method, one call through the bit generator per
    32-bit word: x = (word × n) >> 32, the word rejected (and the next one taken) when
    (word × n) mod 2**32 < 2**32 mod n. Here the same words come in blocks from
    `random_raw` (each 64-bit output is two words, low half first, as PCG64's `next_uint32`
    hands them out, keeping the high half for the next call in `has_uint32`/`uinteger`), and
    the same arithmetic runs on whole arrays. Anything else (another bit generator, n < 2,
    a big-endian machine) takes numpy's own path.
    """
    bits = rng.bit_generator
    if not 2 <= n <= 2**31 or type(bits) is not np.random.PCG64 or sys.byteorder != "little":
        return rng.integers(0, n, size=shape, dtype=np.int32)
    state = bits.state
    threshold = np.uint32((1 << 32) % n)
    n32, n64, shift = np.uint32(n), np.uint64(n), np.uint64(32)
    count = shape[0] * shape[1]
    out = np.empty(count, dtype=np.int32)
    pending = np.array([state["uinteger"]] if state["has_uint32"] else [], dtype=np.uint32)
    filled = 0
    while filled < count:
        need = min(count - filled, _CHUNK)
        words = bits.random_raw((need - len(pending) + 1) // 2).view(np.uint32)
        if len(pending):
            words = np.concatenate([pending, words])
        if threshold and not (ok := words * n32 >= threshold).all():
            kept = np.flatnonzero(ok)[:need]
            # The words after the need-th accepted one are not consumed, whatever they are.
            pending = words[kept[-1] + 1 :] if len(kept) == need else words[:0]
            words, take = words[kept], len(kept)
        else:
            take, pending = need, words[need:]
        np.right_shift(
            words[:take].astype(np.uint64) * n64,
            shift,
            out=out[filled : filled + take],
            casting="unsafe",
        )
        filled += take
    state = bits.state  # random_raw advanced it; the half word left over is numpy's buffer
    state["has_uint32"] = int(len(pending) == 1)
    if len(pending):
        state["uinteger"] = int(pending[0])
    bits.state = state
    return out.reshape(shape)


def _resampled_medians(
    sample: np.ndarray, draws: np.ndarray, *, consume: bool = False
) -> np.ndarray:
    """`np.median(sample[draws], axis=-1)` (draws: resamples × n indices into `sample`, no
    NaN in it), from the ranks drawn: a row's middle values are the values of its middle
    ranks, so each row partitions 32-bit ranks instead of a copy of the drawn floats. Bit
    for bit np.median's result (the mean of the two middle values, as it takes it).
    With `consume`, `draws` may be overwritten (partitioned in place)."""
    n = draws.shape[-1]
    upper = n // 2
    if len(sample) < 2 or bool((sample[1:] >= sample[:-1]).all()):
        # Already in order (the warm/cold halves of `split_warm_cold` are): every index is
        # its own rank, so the draws are the ranks; no sort and no gather through them.
        ordered = sample
        drawn = draws if consume else draws.copy()
    else:
        order = np.argsort(sample, kind="stable")
        ranks = np.empty(len(sample), dtype=np.int32)
        ranks[order] = np.arange(len(sample), dtype=np.int32)
        ordered = sample[order]
        drawn = ranks[draws]  # a fresh array: partitioned in place, no second copy
    # One position, not the two middle ones: numpy selects a single kth of a 32-bit array
    # with SIMD (x86-simd-sort), ~3x its plain introselect for two; the lower middle is
    # then the largest rank left of it. (16-bit ranks are slower: no SIMD path for them.)
    drawn.partition(upper, axis=-1)
    high = ordered[drawn[:, upper]]
    if n % 2:
        return high
    low = ordered[drawn[:, :upper].max(axis=-1)]
    return np.mean(np.stack([low, high], axis=-1), axis=-1)


def median_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """median(a) − median(b) along the last axis (a bootstrap `statistic`)."""
    return np.median(a, axis=-1) - np.median(b, axis=-1)


def geometric_mean_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geometric mean of `a` over that of `b` along the last axis (a bootstrap `statistic`)."""
    return log_mean_ratio(np.log(a), np.log(b))


def log_mean_ratio(log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """`geometric_mean_ratio` of the samples whose logs are given: exp(mean − mean)."""
    return np.exp(log_a.mean(axis=-1) - log_b.mean(axis=-1))


class WarmCold(NamedTuple):
    threshold_s: float
    warm: np.ndarray
    cold: np.ndarray
    separation: float  # Ashman's D on log seconds


def split_warm_cold(
    seconds: np.ndarray, *, min_fraction: float = 0.05, min_separation: float = 3.0
) -> WarmCold | None:
    """Best two-group split of durations (Otsu on log seconds), if the groups are distinct."""
    values = np.sort(seconds[seconds > 0])
    n = len(values)
    lowest = max(int(np.ceil(n * min_fraction)), 2)
    if n < 2 * lowest:
        return None
    logs = np.log(values)
    csum, csq = np.cumsum(logs), np.cumsum(logs**2)
    k = np.arange(lowest, n - lowest + 1)  # size of the fast group
    left_var = csq[k - 1] - csum[k - 1] ** 2 / k
    right_n = n - k
    right_sum = csum[-1] - csum[k - 1]
    right_var = (csq[-1] - csq[k - 1]) - right_sum**2 / right_n
    best = int(k[np.argmin(left_var + right_var)])
    fast, slow = logs[:best], logs[best:]
    spread = np.sqrt(fast.var() + slow.var())
    separation = float(np.sqrt(2) * (slow.mean() - fast.mean()) / spread) if spread else np.inf
    if separation < min_separation:
        return None
    return WarmCold(
        float((values[best - 1] + values[best]) / 2), values[:best], values[best:], separation
    )


@dataclass(frozen=True)
class ChangePoint:
    """A step in a series: `index` is the first element of the new level."""

    index: int
    before: float
    after: float
    p_value: float


def _best_split(x: np.ndarray, min_segment: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `x` (series × time), the split maximising between-segment variance.

    Returns (statistic, split index). The statistic n_l·n_r/n·(mean_l − mean_r)² is the
    reduction in squared error from fitting two means instead of one.
    """
    n = x.shape[1]
    csum = np.cumsum(x, axis=1)
    total = csum[:, -1:]
    k = np.arange(min_segment, n - min_segment + 1)  # size of the left segment
    left_mean = csum[:, k - 1] / k
    right_mean = (total - csum[:, k - 1]) / (n - k)
    stat = k * (n - k) / n * (left_mean - right_mean) ** 2
    best = np.argmax(stat, axis=1)
    return stat[np.arange(x.shape[0]), best], k[best]


def detect_change_points(
    values: Sequence[float] | np.ndarray,
    *,
    min_segment: int = 4,
    alpha: float = 0.01,
    min_change_pct: float = 10.0,
    permutations: int = 999,
    seed: int = 0,
) -> list[ChangePoint]:
    """Binary segmentation with a permutation test; returns change points in order.

    Each segment's best split is kept only when shuffling the segment rarely gives one as
    good (`p_value <= alpha`) and the step is at least `min_change_pct` of the level
    before it; then each side is searched again.
    """
    series = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    found: list[ChangePoint] = []

    def search(lo: int, hi: int) -> None:
        segment = series[lo:hi]
        if len(segment) < 2 * min_segment:
            return
        observed, split = _best_split(segment[None, :], min_segment)
        k = int(split[0])
        before = float(np.mean(segment[:k]))
        after = float(np.mean(segment[k:]))
        change_pct = abs(after - before) / max(abs(before), 1e-9) * 100
        if change_pct < min_change_pct:
            return  # too small to matter, significant or not: skip the permutations
        shuffled = rng.permuted(np.broadcast_to(segment, (permutations, len(segment))), axis=1)
        null_stats, _ = _best_split(shuffled, min_segment)
        p_value = (1 + int(np.sum(null_stats >= observed[0]))) / (permutations + 1)
        if p_value > alpha:
            return
        found.append(ChangePoint(lo + k, before, after, p_value))
        search(lo, lo + k)
        search(lo + k, hi)

    search(0, len(series))
    found.sort(key=lambda cp: cp.index)
    # Levels either side of each change, measured between neighbouring change points.
    bounds = [0, *(cp.index for cp in found), len(series)]
    return [
        ChangePoint(
            cp.index,
            float(np.mean(series[bounds[i] : bounds[i + 1]])),
            float(np.mean(series[bounds[i + 1] : bounds[i + 2]])),
            cp.p_value,
        )
        for i, cp in enumerate(found)
    ]
