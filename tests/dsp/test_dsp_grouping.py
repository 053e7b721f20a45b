"""Grouping spectral components by shared timing within a plausible channel."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.grouping import GroupingConfig, group_components

DT = 0.001
FRAMES = 1000


def activity(spans: list[tuple[float, float]], level_db: float, seed: int, *, chop: bool = False) -> np.ndarray:
    """Frame SNR (dB) of a component on during spans (s); chop: on in alternate 2-frame runs (FSK tones)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, FRAMES)
    for a, b in spans:
        i, j = round(a / DT), round(b / DT)
        on = np.ones(j - i, bool)
        if chop:
            on = (np.arange(j - i) // 2) % 2 == (seed % 2)
        x[i:j] = np.where(on, level_db, 0.0) + rng.normal(0.0, 1.0, j - i)
    return x


PACKETS = [(0.10, 0.14), (0.30, 0.36), (0.61, 0.64)]


def run(parts: list[tuple[float, float, float, np.ndarray]], **kw: float) -> list[list[int]]:
    lo = np.array([p[0] for p in parts])
    hi = np.array([p[1] for p in parts])
    return group_components(lo, hi, hi - lo, np.array([p[2] for p in parts]), np.array([p[3] for p in parts]), DT,
                            GroupingConfig(**kw))


def test_fsk_tones_switching_symbol_by_symbol_are_one_emission() -> None:
    groups = run([(-21e3, -17e3, -30.0, activity(PACKETS, 20.0, 1, chop=True)),
                  (17e3, 21e3, -31.0, activity(PACKETS, 20.0, 2, chop=True))])
    assert groups == [[0, 1]]


def test_fsk_tones_on_in_every_other_frame_at_10_db_are_one_emission() -> None:
    # at 10 dB a 1 ms frame holding one symbol of a tone crosses the threshold, the next one does not: lone
    # frames, each well over it (17 dB); each tone's packets start or end up to 8 ms off the other's
    def tone(spans: list[tuple[float, float]], phase: int, seed: int) -> np.ndarray:
        x = np.random.default_rng(seed).normal(0.0, 1.0, FRAMES)
        for a, b in spans:
            i, j = round(a / DT), round(b / DT)
            x[i:j] += np.where(np.arange(j - i) % 2 == phase, 17.0, 0.0)
        return x

    late = [(a + 0.008, b) for a, b in PACKETS]
    early = [(a, b - 0.009) for a, b in PACKETS]
    assert run([(-21e3, -17e3, -30.0, tone(late, 0, 21)), (17e3, 21e3, -31.0, tone(early, 1, 22))]) == [[0, 1]]


def test_the_spectrum_between_fsk_tones_hovering_at_the_threshold_joins_them() -> None:
    # between the tones, 3-9 dB over the noise: only some frames cross 6 dB, its bursts are fragments
    rng = np.random.default_rng(23)
    middle = rng.normal(0.0, 1.0, FRAMES)
    for a, b in PACKETS:
        i, j = round(a / DT), round(b / DT)
        middle[i:j] = rng.normal(5.0, 2.0, j - i)
    parts = [(-21e3, -17e3, -30.0, activity(PACKETS, 20.0, 24)), (17e3, 21e3, -31.0, activity(PACKETS, 20.0, 25)),
             (-10e3, 10e3, -36.0, middle)]
    assert run(parts) == [[0, 1, 2]]


def test_ook_sidebands_with_the_packet_timing_join_the_carrier() -> None:
    weak_late = [(a + 0.002, b) for a, b in PACKETS[:2]]  # weak: misses the last packet, starts 2 ms late
    groups = run([(-1e3, 1e3, -20.0, activity(PACKETS, 30.0, 3)),
                  (-17e3, -9e3, -40.0, activity(weak_late, 9.0, 4)),
                  (9e3, 17e3, -41.0, activity(PACKETS, 9.0, 5))])
    assert groups == [[0, 1, 2]]


def test_two_devices_on_nearby_frequencies_stay_apart() -> None:
    other = [(0.20, 0.25), (0.45, 0.52)]
    groups = run([(-1e3, 1e3, -20.0, activity(PACKETS, 30.0, 6)), (24e3, 26e3, -22.0, activity(other, 30.0, 7))])
    assert groups == [[0], [1]]


def test_a_device_keyed_during_a_longer_packet_of_another_stays_apart() -> None:
    inside = [(0.31, 0.33)]  # inside the 0.30-0.36 packet, edges 10 and 30 ms off
    groups = run([(-1e3, 1e3, -20.0, activity(PACKETS, 30.0, 8)), (24e3, 26e3, -22.0, activity(inside, 30.0, 9))])
    assert groups == [[0], [1]]


def test_a_continuous_spur_beside_a_bursty_signal_stays_apart() -> None:
    groups = run([(-1e3, 1e3, -20.0, activity(PACKETS, 30.0, 10)),
                  (5e3, 6e3, -25.0, activity([(0.0, 1.0)], 12.0, 11))])
    assert groups == [[0], [1]]


def test_co_timed_components_beyond_a_plausible_channel_stay_apart() -> None:
    parts = [(-1e3, 1e3, -20.0, activity(PACKETS, 30.0, 12)), (300e3, 302e3, -21.0, activity(PACKETS, 30.0, 13))]
    assert run(parts) == [[0], [1]]
    assert run(parts, min_channel_hz=400e3) == [[0, 1]]


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="one edge/width/strength per component"):
        group_components(np.zeros(2), np.ones(2), np.ones(2), np.zeros(2), np.zeros((3, 10)), DT)
