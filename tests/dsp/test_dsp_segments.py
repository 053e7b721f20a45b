"""Two-level burst segmentation: packets on a residual carrier, OOK gaps, wandering weak levels."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.bursts import Burst
from dsp.segments import otsu_split, refine_bursts, segment_two_level

DT = 0.001


def series(levels: list[tuple[float, float, float]], total_s: float, seed: int, jitter_db: float = 1.0) -> np.ndarray:
    """Frame SNR (dB): 0 dB noise plus (start_s, stop_s, level_db) spans, with seeded jitter."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, jitter_db, round(total_s / DT))
    for a, b, level in levels:
        x[round(a / DT) : round(b / DT)] = level + rng.normal(0.0, jitter_db, round(b / DT) - round(a / DT))
    return x


def test_packets_on_a_residual_carrier_are_the_bursts_and_the_carrier_is_reported() -> None:
    # carrier 16 dB from 0.070 s to 2.320 s, packets 29 dB over the floor inside it
    packets = [(0.100 + 0.25 * k, 0.160 + 0.25 * k) for k in range(8)]
    x = series([(0.070, 2.320, 16.0)] + [(a, b, 29.0) for a, b in packets], 2.5, seed=31)
    seg = segment_two_level(x, DT, threshold_db=6.0, merge_gap_s=0.010, min_duration_s=0.002)
    assert [c.start_s for c in seg.carrier] == pytest.approx([0.070], abs=0.002)
    assert seg.carrier[0].duration_s == pytest.approx(2.250, abs=0.003)
    assert len(seg.bursts) == 8
    for burst, (a, b) in zip(seg.bursts, packets):
        assert burst.start_s == pytest.approx(a, abs=0.002)
        assert burst.duration_s == pytest.approx(b - a, abs=0.002)


def test_ook_gaps_inside_a_packet_are_not_a_carrier() -> None:
    rng = np.random.default_rng(32)
    x = rng.normal(0.0, 1.0, 600)
    keyed = rng.integers(0, 2, 200).astype(bool)  # 1 ms symbols: frames either on (25 dB) or noise
    x[200:400] = np.where(keyed, 25.0, 0.0) + rng.normal(0.0, 1.0, 200)
    seg = segment_two_level(x, DT, threshold_db=6.0, merge_gap_s=0.010, min_duration_s=0.002)
    assert seg.carrier == ()
    ((burst),) = seg.bursts
    assert burst.start_s == pytest.approx(0.200, abs=0.006) and burst.duration_s == pytest.approx(0.2, abs=0.012)


def test_a_fading_level_stays_one_burst() -> None:
    rng = np.random.default_rng(33)
    x = rng.normal(0.0, 1.0, 1000)
    x[100:900] = 20.0 + 8.0 * np.sin(np.linspace(0, 6 * np.pi, 800)) + rng.normal(0.0, 1.0, 800)
    seg = segment_two_level(x, DT, threshold_db=6.0, merge_gap_s=0.010)
    assert seg.carrier == () and len(seg.bursts) == 1


def test_a_weak_steady_level_crossing_the_threshold_is_no_burst() -> None:
    # a spur ~4 dB over the noise whose frames wander over 6 dB now and then
    x = series([], 1.0, seed=34, jitter_db=1.5) + 4.0
    seg = segment_two_level(x, DT, threshold_db=6.0, merge_gap_s=0.010, min_duration_s=0.002)
    assert seg.bursts == () and seg.steady


def test_clean_bursts_over_noise_are_found_once() -> None:
    x = series([(0.1, 0.15, 20.0), (0.4, 0.43, 15.0)], 1.0, seed=35)
    seg = segment_two_level(x, DT, threshold_db=6.0, merge_gap_s=0.010, min_duration_s=0.002)
    assert [(round(b.start_s, 3), round(b.duration_s, 3)) for b in seg.bursts] == [(0.1, 0.05), (0.4, 0.03)]
    assert seg.carrier == () and not seg.steady


def test_otsu_splits_two_clusters_between_them() -> None:
    v = np.r_[np.full(50, 16.0), np.full(30, 29.0)]
    assert 16.0 <= otsu_split(v) < 29.0


HOP = 0.00025  # quarter-frame hop of 1 ms frames
FRAME = 0.001


def keyed_excess(packets: list[tuple[float, float]], total_s: float, seed: int, *, bit_s: float = 0.0004,
                 mark: float = 20.0, bins: int = 8) -> np.ndarray:
    """Excess over the noise (linear) of 1 ms frames every 0.25 ms: OOK packets (random bits, first and
    last bit marks) of ``mark`` times the noise, in noise of ``bins`` frequency bins (chi-square)."""
    rng = np.random.default_rng(seed)
    fine = np.zeros(round(total_s / 1e-5))  # 10 us grid of the keyed level
    for a, b in packets:
        bits = rng.integers(0, 2, int((b - a) / bit_s) + 1).astype(float)
        bits[[0, -1]] = 1.0
        i = np.arange(round(a / 1e-5), round(b / 1e-5))
        fine[i] = bits[np.minimum(((i * 1e-5 - a) / bit_s).astype(int), bits.size - 1)]
    n = round((total_s - FRAME) / HOP)
    win = np.hanning(round(FRAME / 1e-5))
    level = np.array([np.dot(fine[round(k * HOP / 1e-5) : round(k * HOP / 1e-5) + win.size], win) for k in range(n)])
    noise = rng.chisquare(2 * bins, n) / (2 * bins) - 1.0
    return mark * level / win.sum() + noise


def test_refined_edges_are_the_first_and_last_mark_within_half_a_millisecond() -> None:
    packets = [(0.0523, 0.0871), (0.2010, 0.2395), (0.3307, 0.3702)]
    r = keyed_excess(packets, 0.5, seed=41)
    coarse = tuple(Burst(a + 0.003, b - a - 0.006) for a, b in packets)  # 3 ms inside at each end
    got = refine_bursts(r, HOP, FRAME, coarse, search_s=0.010)
    assert [t for b in got for t in (b.start_s, b.start_s + b.duration_s)] == pytest.approx(
        [t for p in packets for t in p], abs=0.0005)


def test_spaces_inside_a_packet_do_not_end_it() -> None:
    packets = [(0.100, 0.140)]
    r = keyed_excess(packets, 0.4, seed=42)
    gap = (np.arange(r.size) * HOP > 0.115) & (np.arange(r.size) * HOP < 0.123)  # 8 ms of spaces
    r[gap] = np.random.default_rng(43).chisquare(16, int(gap.sum())) / 16 - 1.0
    (got,) = refine_bursts(r, HOP, FRAME, (Burst(0.100, 0.040),), search_s=0.010)
    assert (got.start_s, got.duration_s) == pytest.approx((0.100, 0.040), abs=0.0005)


def test_a_burst_where_the_band_holds_no_energy_is_dropped() -> None:
    packets = [(0.100, 0.140)]
    r = keyed_excess(packets, 0.5, seed=44, bins=2)  # narrow band: single noise frames reach 6 dB
    coarse = (Burst(0.100, 0.040), Burst(0.300, 0.002))  # a 2 ms "burst" of noise
    got = refine_bursts(r, HOP, FRAME, coarse, search_s=0.010)
    assert [(round(b.start_s, 3), round(b.duration_s, 3)) for b in got] == [(0.100, 0.040)]
