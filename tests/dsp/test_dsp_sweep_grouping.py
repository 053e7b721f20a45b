"""Grouping a sweep's emissions by their timing in the dwell's slots (synthetic slot spectra)."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.emissions import Emission
from dsp.sweep_grouping import HopSlots, burst_components, gated_spectrum_dbm, group_emissions, measure_group

BIN_HZ = 1000.0
SLOTS = 200
SLOT_S = 0.002
FLOOR = 1.0  # per bin, the unit of power * row_scale


def emission(lo_hz: float, hi_hz: float, power_dbm: float = 0.0) -> Emission:
    c = (lo_hz + hi_hz) / 2
    return Emission(center_hz=c, peak_hz=c, peak_dbm=power_dbm, power_dbm=power_dbm, bandwidth_xdb_hz=hi_hz - lo_hz,
                    obw_hz=hi_hz - lo_hz, snr_db=20.0, f_lo_hz=lo_hz, f_hi_hz=hi_hz)


def hop(parts: list[tuple[float, float, np.ndarray, float]], seed: int = 0, centre_hz: float = 0.0) -> HopSlots:
    """Slots of noise (mean FLOOR per bin) plus, per part, power ``level`` in [lo, hi) in the slots ``on``."""
    rng = np.random.default_rng(seed)
    f = centre_hz + (np.arange(512) - 256) * BIN_HZ
    p = rng.gamma(5.0, FLOOR / 5.0, (SLOTS, f.size))  # 5 segments per slot
    for lo, hi, on, level in parts:
        sel = (f >= lo) & (f < hi)
        p[np.ix_(on, sel)] += level
    return HopSlots(freqs_hz=f, power=p.astype(np.float32), row_scale=np.ones(SLOTS), slot_s=SLOT_S,
                    kept_lo_hz=f[0] - BIN_HZ / 2, kept_hi_hz=f[-1] + BIN_HZ / 2)


def packets(*spans_s: tuple[float, float]) -> np.ndarray:
    on = np.zeros(SLOTS, bool)
    for a, b in spans_s:
        on[round(a / SLOT_S) : round(b / SLOT_S)] = True
    return on


PKT = packets((0.02, 0.06), (0.15, 0.19), (0.30, 0.33))


def test_fsk_tones_switching_symbol_by_symbol_are_one_group() -> None:
    # at slot resolution both tones are on in every slot of a packet
    h = hop([(-20e3, -15e3, PKT, 10.0), (15e3, 20e3, PKT, 6.0)])
    ems = [emission(-20e3, -15e3, 3.0), emission(15e3, 20e3, 1.0)]
    [g] = group_emissions(ems, [h], FLOOR, channel_width_hz=12.5e3)
    assert g.members == (0, 1) and g.on_slots is not None and g.on_slots.sum() == PKT.sum()


def test_two_devices_with_their_own_packets_stay_apart() -> None:
    other = packets((0.08, 0.12), (0.24, 0.28))
    h = hop([(-20e3, -15e3, PKT, 10.0), (5e3, 10e3, other, 10.0)], seed=1)
    ems = [emission(-20e3, -15e3), emission(5e3, 10e3)]
    groups = group_emissions(ems, [h], FLOOR, channel_width_hz=12.5e3)
    assert [g.members for g in groups] == [(0,), (1,)]


def test_a_steady_spur_never_joins_a_bursty_signal() -> None:
    h = hop([(-20e3, -15e3, PKT, 10.0), (0.0, 2e3, np.ones(SLOTS, bool), 30.0)], seed=2)
    ems = [emission(-20e3, -15e3), emission(0.0, 2e3, 10.0)]
    groups = group_emissions(ems, [h], FLOOR, channel_width_hz=12.5e3)
    assert [g.members for g in groups] == [(0,), (1,)]
    assert groups[1].on_slots is None  # steady: measured on the average


def test_components_farther_apart_than_a_channel_are_not_grouped_even_when_keyed_together() -> None:
    h = hop([(-200e3, -195e3, PKT, 10.0), (195e3, 200e3, PKT, 10.0)], seed=5)
    ems = [emission(-200e3, -195e3), emission(195e3, 200e3)]
    groups = group_emissions(ems, [h], FLOOR, channel_width_hz=12.5e3)
    assert [g.members for g in groups] == [(0,), (1,)]
    assert all(g.on_slots is not None and g.on_slots.sum() == PKT.sum() for g in groups)  # each keyed


def test_components_of_different_hops_are_not_grouped() -> None:
    a = hop([(-20e3, -15e3, PKT, 10.0)], centre_hz=0.0)
    b = hop([(255e3, 262e3, PKT, 10.0)], seed=3, centre_hz=512e3)
    a = HopSlots(a.freqs_hz, a.power, a.row_scale, SLOT_S, a.kept_lo_hz, 250e3)
    b = HopSlots(b.freqs_hz, b.power, b.row_scale, SLOT_S, 250e3, b.kept_hi_hz)
    ems = [emission(240e3, 249e3), emission(251e3, 258e3)]
    groups = group_emissions(ems, [a, b], FLOOR, channel_width_hz=12.5e3)
    assert [(g.members, g.hop) for g in groups] == [((0,), 0), ((1,), 1)]


def test_a_group_is_measured_over_its_whole_span_while_on() -> None:
    h = hop([(-20e3, -15e3, PKT, 10.0), (-15e3, 15e3, PKT, 0.5), (15e3, 20e3, PKT, 10.0)], seed=4)
    ems = [emission(-20e3, -15e3), emission(15e3, 20e3)]
    [g] = group_emissions(ems, [h], FLOOR, channel_width_hz=12.5e3)
    f = h.freqs_hz
    mean = h.power.mean(axis=0)
    e = measure_group(ems, g, [h], f, 10 * np.log10(mean), 0.0)
    assert e.center_hz == pytest.approx(0.0, abs=1e3)
    assert e.f_lo_hz <= -20e3 and e.f_hi_hz >= 19e3
    assert e.obw_hz == pytest.approx(40e3, rel=0.1)
    # power and SNR stay the dwell's averages (what every other emission reports)
    on_share = PKT.mean()
    assert e.power_dbm == pytest.approx(10 * np.log10(on_share * (2 * 5 * 10.0 + 30 * 0.5)), abs=0.5)


def test_a_weak_burst_the_average_misses_is_found_in_its_slots() -> None:
    short = packets((0.10, 0.13))  # 30 ms in a 0.4 s dwell: 7.5 % of the time
    h = hop([(50e3, 58e3, short, 6.0)], seed=6)  # 8.5 dB over the noise while on, 1 dB on average
    found = burst_components(h, FLOOR, known=[])
    assert len(found) == 1
    assert found[0].f_lo_hz <= 51e3 and found[0].f_hi_hz >= 57e3
    assert burst_components(h, FLOOR, known=[emission(49e3, 59e3)]) == []  # already known


@pytest.mark.parametrize("seed", range(20, 30))
def test_noise_alone_makes_no_burst_component(seed) -> None:
    assert burst_components(hop([], seed=seed), FLOOR, known=[]) == []


def test_a_weak_part_joins_the_group_it_keyed_with_and_a_stray_one_stands_alone() -> None:
    other = packets((0.08, 0.12), (0.24, 0.28))
    h = hop([(-20e3, -15e3, PKT, 10.0), (-5e3, -2e3, PKT, 6.0), (30e3, 34e3, other, 6.0)], seed=7)
    ems = [emission(-20e3, -15e3, 3.0), emission(-5e3, -2e3, -5.0), emission(30e3, 34e3, -5.0),
           emission(80e3, 82e3, -5.0)]  # the last never keyed: noise in one block
    groups = group_emissions(ems, [h], FLOOR, channel_width_hz=12.5e3, weak=[False, True, True, True])
    assert [g.members for g in groups] == [(0, 1), (2,)]


@pytest.mark.parametrize(("lo_hz", "hi_hz"), [(-20e3, -10e3), (-3e3, 4e3), (100e3, 130e3), (-300e3, 300e3)])
def test_a_window_of_the_on_slot_spectrum_equals_that_part_of_the_whole(lo_hz, hi_hz) -> None:
    h = hop([(-20e3, -15e3, PKT, 10.0), (-1e3, 1e3, PKT, 50.0)], seed=8)  # a spike at the centre too
    f_all, p_all = gated_spectrum_dbm(h, PKT, dc_bins=3)
    f, p = gated_spectrum_dbm(h, PKT, 3, lo_hz, hi_hz)
    sel = (f_all >= lo_hz) & (f_all <= hi_hz)
    np.testing.assert_array_equal(f, f_all[sel])
    np.testing.assert_allclose(p, p_all[sel], atol=1e-4)
