"""SM.443 99 % bandwidth on the signed excess over the floor: right at low SNR, x-dB only where measurable."""

from __future__ import annotations

import numpy as np
import pytest

from dsp import welch_psd
from dsp.emissions import measure_span
from dsp.obw import (
    BLOCK_VARIANCE,
    signed_obw_hz,
    significant_extent,
    span_power,
    unresolved_line_obw_hz,
    xdb_measurable,
)

BIN_HZ = 250.0
N = 2048
FREQS = (np.arange(N) - N // 2) * BIN_HZ


def keyed_psd(corner_hz: float) -> np.ndarray:
    """Per-bin power of a keyed carrier's spectrum: a flat top to corner_hz, then sidebands falling as f^-4."""
    f = np.abs(FREQS)
    return 1.0 / (1.0 + (f / corner_hz) ** 4)


def true_obw_hz(p: np.ndarray) -> float:
    return signed_obw_hz(FREQS, p)


def welch_noise(rng: np.random.Generator, averages: int) -> np.ndarray:
    """Noise bins of a K-segment average with unit mean: Gamma(K, 1/K)."""
    return rng.gamma(averages, 1.0 / averages, N)


def test_signed_obw_of_a_flat_block_is_99_percent_of_its_width() -> None:
    e = np.zeros(N)
    e[1000:1100] = 1.0
    assert signed_obw_hz(FREQS, e) == pytest.approx(0.99 * 100 * BIN_HZ, rel=1e-9)


def test_a_block_of_significant_excess_beyond_the_core_widens_the_extent_noise_does_not() -> None:
    sigma = np.full(N, 0.1)
    e = np.zeros(N)
    e[1000:1010] = 5.0  # core
    e[1011:1013] = 0.3  # the skirt going on: 2 bins at 0.3 (z = 0.6 / 0.14 = 4.2)
    e[1030:1034] = 1.0  # a line beyond a gap of noise (sum 4 against 3.5 x 0.1 x sqrt(21))
    e[1100:1104] = 1.0  # the same, 66 bins beyond it: further than the gap searched
    e[990:992] = -0.3  # below the core: nothing
    assert significant_extent(e, sigma, 1000, 1009, 0, N - 1, z=2.0, max_gap_bins=32) == (1000, 1033)


def test_a_noise_walk_does_not_carry_the_extent_away() -> None:
    rng = np.random.default_rng(4400)
    sigma = np.full(N, 0.1)
    reached = []
    for _ in range(200):
        e = rng.normal(0.0, 0.1, N)
        e[1000:1010] = 5.0
        lo, hi = significant_extent(e, sigma, 1000, 1009, 0, N - 1, z=2.0, max_gap_bins=32)
        reached.append(max(1000 - lo, hi - 1009))
    assert np.median(reached) <= 1
    assert np.mean(np.array(reached) > 8) < 0.05  # a long false walk is rare


@pytest.mark.parametrize(("top", "averages", "within"), [(10.0, 240, 0.10), (30.0, 54, 0.10), (100.0, 54, 0.05)])
def test_low_snr_bandwidth_is_not_widened_by_the_noise(top: float, averages: int, within: float) -> None:
    # a keyed spectrum's sidebands under the noise: clipping the excess at zero counts the noise as
    # sidebands (about +30 % at 10 dB); the signed excess over its significant extent does not
    clean = top * keyed_psd(2e3)
    truth = true_obw_hz(clean)
    rng = np.random.default_rng(4401)
    new, old = [], []
    core = np.flatnonzero(clean > 4.0)
    for _ in range(20):
        p = clean + welch_noise(rng, averages)
        floor = np.ones(N)
        new.append(span_power(FREQS, p, floor, int(core[0]), int(core[-1]), 0, N - 1, averages=averages).obw_hz)
        clipped = measure_span(FREQS, 10 * np.log10(p), floor_dbm=0.0, f_lo_hz=FREQS[core[0]],
                               f_hi_hz=FREQS[core[-1]], skirt_bins=9)
        assert clipped is not None
        old.append(clipped.obw_hz)
    assert np.median(new) == pytest.approx(truth, rel=within)
    assert np.percentile(np.abs(np.array(new) / truth - 1.0), 80) < 2 * within
    if top <= 30:
        assert np.median(old) > 1.09 * truth  # what clipping did


def test_block_variance_matches_welch_noise_of_hann_segments() -> None:
    rng = np.random.default_rng(4402)
    nfft, segments_len = 1024, 30 * 512 + 512
    x = (rng.standard_normal(segments_len) + 1j * rng.standard_normal(segments_len)).astype(np.complex64)
    _, p = welch_psd(x, 1e6, nfft, scaling="density")
    averages = 2 * x.size // nfft - 1
    r = p / p.mean() - 1.0
    w = 16
    sums = r[: nfft // w * w].reshape(-1, w).sum(axis=1)
    assert sums.var() * averages / w == pytest.approx(BLOCK_VARIANCE, rel=0.35)


@pytest.mark.parametrize(("snr_db", "averages", "measurable"), [
    (20.0, 1000, False),  # the 26 dB points are under the floor
    (27.0, 4, False),  # 4 averages: noise bins reach 4.8 dB over the floor
    (27.0, 1000, True),
    (40.0, 10, True),
])
def test_xdb_bandwidth_is_measurable_only_above_the_noise(snr_db: float, averages: int, measurable: bool) -> None:
    assert xdb_measurable(snr_db, 26.0, averages) is measurable


def _carriers(rng: np.random.Generator, offsets_hz: list[float], snr_db: float, n: int = 51 * 512,
              nfft: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Welch per-bin power of carriers at 1 MS/s, each snr_db over the noise in a bin, with and without noise."""
    t = np.arange(n) / 1e6
    clean = sum(np.exp(2j * np.pi * f * t) for f in offsets_hz)
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.sqrt(nfft / 10 ** (snr_db / 10) / 2)
    f, p = welch_psd((clean + noise).astype(np.complex64), 1e6, nfft, scaling="spectrum")
    _, p0 = welch_psd(np.asarray(clean, np.complex64), 1e6, nfft, scaling="spectrum")
    return f, p, p0, 2 * n // nfft - 1


@pytest.mark.parametrize("seed", [4411, 4412, 4413, 4414, 4415, 4416])
def test_a_carrier_narrower_than_a_bin_reads_the_window_response_at_10_db(seed: int) -> None:
    # the carrier's 99 % bandwidth at this resolution is the Hann response's (2.9-3.5 bins by where it falls
    # between bins); cut on the noisy excess, the noise past its steep main lobe read it up to 2 bins wider
    rng = np.random.default_rng(seed)
    offset = 100_000.0 + rng.uniform(0.0, 977.0)
    f, p, p0, averages = _carriers(rng, [offset], 10.0)
    floor = np.full(f.size, np.median(p))
    k = int(np.argmin(np.abs(f - offset)))
    sp = span_power(f, p, floor, k, k, 0, f.size - 1, averages=averages)
    response = signed_obw_hz(f[k - 8 : k + 9], p0[k - 8 : k + 9])
    assert 2.8 * 977 < response < 3.6 * 977
    assert sp.obw_hz == pytest.approx(response, rel=0.03)


def test_two_carriers_three_bins_apart_are_not_taken_for_one_line() -> None:
    f, p, _, averages = _carriers(np.random.default_rng(4417), [100_000.0, 102_930.0], 20.0)
    floor = np.full(f.size, np.median(p))
    k = int(np.argmin(np.abs(f - 101_465.0)))
    assert unresolved_line_obw_hz(f[k - 6 : k + 7], (p - floor)[k - 6 : k + 7], floor[k - 6 : k + 7], averages) is None
    sp = span_power(f, p, floor, k - 2, k + 2, 0, f.size - 1, averages=averages)
    assert sp.obw_hz > 3.5 * 977
