"""The shared statistics on synthetic samples whose answer is known by construction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ciwb.stats import (
    _integers,
    bootstrap_interval,
    detect_change_points,
    geometric_mean_ratio,
    median_difference,
    split_warm_cold,
)


def test_unimodal_durations_are_not_split_into_warm_and_cold():
    rng = np.random.default_rng(0)
    assert split_warm_cold(rng.lognormal(4, 0.3, 500)) is None
    both = np.r_[rng.lognormal(3, 0.1, 300), rng.lognormal(4.5, 0.1, 100)]
    split = split_warm_cold(both)
    assert split is not None and len(split.warm) == 300


def test_change_points_found_on_a_step_and_not_on_noise():
    rng = np.random.default_rng(1)
    noise = 100 + rng.normal(0, 5, 60)
    assert detect_change_points(noise) == []
    step = np.concatenate([100 + rng.normal(0, 5, 30), 140 + rng.normal(0, 5, 30)])
    (cp,) = detect_change_points(step)
    assert cp.index == 30
    assert cp.after - cp.before == pytest.approx(40, abs=5)
    assert cp.p_value < 0.01
    # Statistically clear but smaller than min_change_pct: not worth an alert.
    small = np.concatenate([100 + rng.normal(0, 0.5, 30), 103 + rng.normal(0, 0.5, 30)])
    assert detect_change_points(small, min_change_pct=10) == []
    assert len(detect_change_points(small, min_change_pct=1)) == 1


@pytest.mark.parametrize("n", [1, 2, 3, 10, 51, 600])
@pytest.mark.parametrize("ties", [False, True])
def test_median_difference_interval_is_the_one_of_resampled_medians(n: int, ties: bool) -> None:
    # bootstrap_interval takes the medians of median_difference's resamples without
    # partitioning each one; the interval is bit for bit the one np.median gives.
    rng = np.random.default_rng(n)
    a, b = rng.lognormal(3, 1, n), rng.lognormal(2, 1, n + 7)
    if ties:
        a, b = np.round(a), np.round(b)

    def generic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.median(x, axis=-1) - np.median(y, axis=-1)

    for samples in ([a, b], [np.sort(a), np.sort(b)]):
        assert bootstrap_interval(median_difference, samples, resamples=500) == (
            bootstrap_interval(generic, samples, resamples=500)
        )


def _reference_interval(
    statistic: Callable[..., np.ndarray], samples: list[np.ndarray], resamples: int
) -> tuple[float, float]:
    """The percentile bootstrap written out plainly: default int64 draws from the seeded
    generator, the statistic on copies of the resampled values, the quantiles either side of
    the central 95 %."""
    rng = np.random.default_rng(0)
    draws = [rng.integers(0, len(s), size=(resamples, len(s))) for s in samples]
    values = statistic(*(s[d] for s, d in zip(samples, draws, strict=True)))
    alpha = (1 - 0.95) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


@pytest.mark.parametrize("n", [1, 2, 5, 40, 301, 880])
@pytest.mark.parametrize(
    "statistic",
    [
        median_difference,
        geometric_mean_ratio,
        lambda a, b: np.median(a, axis=-1) / np.mean(b, axis=-1),  # any other statistic
    ],
)
def test_bootstrap_interval_is_the_plain_computations(
    statistic: Callable[..., np.ndarray], n: int
) -> None:
    # However bootstrap_interval draws and reduces its resamples (32-bit indices, ranks
    # partitioned in place, logs taken once per sample), the interval is the plain one's.
    rng = np.random.default_rng(100 + n)
    samples = [np.round(rng.lognormal(3, 1, n), 1), np.round(rng.lognormal(2.5, 1, n + 3), 1)]
    assert bootstrap_interval(statistic, samples, resamples=700) == _reference_interval(
        statistic, samples, 700
    )


@pytest.mark.parametrize(
    "sizes",
    [
        [629, 447],  # the cache what-if's warm and cold groups
        [1, 2, 3, 7],  # n = 1 draws nothing; odd counts leave half a word buffered
        [17, 2**30 + 12345, 3 * 2**29, 2**31],  # big n: many words rejected and drawn again
    ],
)
@pytest.mark.parametrize("rows", [1, 3, 2000])
def test_bootstrap_draws_are_numpys_own(sizes: list[int], rows: int) -> None:
    # bootstrap_interval's block draws give rng.integers' numbers, and leave the generator
    # where it leaves it, so each next sample's draws (and any draw after) are the same too.
    ours, numpys = np.random.default_rng(7), np.random.default_rng(7)
    for n in sizes:
        shape = (rows, min(n, 1001))
        drawn = _integers(ours, n, shape)
        expected = numpys.integers(0, n, size=shape, dtype=np.int32)
        assert drawn.dtype == expected.dtype and np.array_equal(drawn, expected), n
    assert ours.integers(0, 10**9, 9).tolist() == numpys.integers(0, 10**9, 9).tolist()
    assert ours.random(3).tolist() == numpys.random(3).tolist()
