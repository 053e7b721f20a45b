"""Clock alignment on a common broadcast: a known offset and drift removed, the TDOA left."""

from __future__ import annotations

import math

import numpy as np

from dsp.clock_align import ClockMap, fit_clock_map, resample
from dsp.tdoa_pair import SnapshotWindows, pair_tdoa

FS = 250e3
F_REF = 98.1e6
F_T = 433.92e6


def _fm(rng, n, dev_hz=60e3):
    audio = np.convolve(rng.standard_normal(n), np.hanning(25), mode="same")
    audio /= np.max(np.abs(audio))
    return np.exp(2j * np.pi * dev_hz * np.cumsum(audio) / FS)


def _wideband(rng, n, bw=0.5):
    spec = np.fft.fft(rng.standard_normal(n) + 1j * rng.standard_normal(n))
    spec[np.abs(np.fft.fftfreq(n)) > bw / 2] = 0
    return np.fft.ifft(spec)


def test_fit_clock_map_recovers_line_and_grows_sigma_away():
    cmap = fit_clock_map(np.array([1000.0, 200000.0]), np.array([50.0 + 1000 * 3e-5, 50.0 + 200000 * 3e-5]),
                         np.array([0.1, 0.1]))
    assert abs(cmap.ratio - (1 + 3e-5)) < 1e-12
    assert abs(cmap.offset_samples - 50.0) < 1e-9
    assert abs(cmap.rate_error_ppm - 30.0) < 1e-6
    assert cmap.sigma_at(400000.0) > cmap.sigma_at(100500.0)
    assert ClockMap.identity(0.2).sigma_at(1e6) == 0.2


def _record(waves, times_s, rng, snr_lin):
    """Sample each (wave, t0) with times in seconds of the wave's own grid (wave sampled at FS), plus noise."""
    out = []
    for (wave, rot_hz), t in zip(waves, times_s):
        x = resample(wave, t * FS) * np.exp(2j * np.pi * rot_hz * t)
        nz = (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) * math.sqrt(0.5 / snr_lin)
        out.append(x + nz)
    return out


def test_alignment_removes_known_offset_and_drift():
    rng = np.random.default_rng(21)
    n_ref, n_tgt, settle = 25_000, 50_000, 1_000
    span = 2 * n_ref + n_tgt + 4 * settle + 20_000
    ref_wave, tgt_wave = _fm(rng, span), _wideband(rng, span, 0.5)
    geo_ref_s, geo_t_s = 37e-6, -81.3e-6  # broadcaster 11 km nearer sensor 0; target 24 km nearer sensor i
    rec = []
    clocks = [(0.0, 0.0), (6.3e-3, 42e-6)]  # (start offset s, crystal error): sensor i starts 6.3 ms late
    for i, (off, eps) in enumerate(clocks):
        n = np.arange(2 * n_ref + n_tgt + 2 * settle)
        t = 0.02 + off + n / (FS * (1 + eps))  # true time of each sample
        iq = np.zeros(n.size, np.complex128)
        b1, b2 = n_ref + settle, n_ref + settle + n_tgt + settle
        segs = [(0, n_ref, ref_wave, geo_ref_s * i, F_REF), (b1, b1 + n_tgt, tgt_wave, geo_t_s * i, F_T),
                (b2, b2 + n_ref, ref_wave, geo_ref_s * i, F_REF)]
        for a, b, wave, geo, f in segs:
            lo = -f * eps  # the LO runs on the same crystal
            iq[a:b] = _record([(wave, lo)], [t[a:b] - geo], rng, 300.0)[0] * np.exp(1j * rng.uniform(0, 6.3))
        rec.append(SnapshotWindows(iq=iq, sample_rate_hz=FS, ref_before=(0, n_ref), target=(b1, b1 + n_tgt),
                                   ref_after=(b2, b2 + n_ref), ref_freq_hz=F_REF, target_freq_hz=F_T))
    res = pair_tdoa(rec[0], rec[1], ref_geometric_lag_s=geo_ref_s, max_tdoa_s=200e-6)
    assert abs(res.clock.rate_error_ppm - 42.0) < 0.05
    # 6.3 ms late start is 1575 samples earlier in sensor i's count for the same instant
    assert abs(res.clock.lag_at(0.0) + 6.3e-3 * FS) < 0.2
    assert abs(res.tdoa_s - geo_t_s) < 0.05 / FS
    assert res.sigma_s < 0.05 / FS


def test_a_narrow_target_with_a_residual_carrier_offset_is_found_anywhere_in_its_window():
    # PPS-locked pair (no reference step), 1 s of 2.5 kHz-deviation NFM, sensor i 24 samples late and 18 Hz
    # off (what a clock map's rate error leaves at UHF): the first look, made with the offset still in, lands
    # tens of samples away; the answer must still be searched over the whole +-46-sample window around 0.
    rng = np.random.default_rng(5)
    n, delay = 250_000, 24.0
    audio = np.convolve(rng.standard_normal(n + 400), np.ones(80) / 80, mode="same")
    wave = np.exp(2j * np.pi * 2.5e3 * np.cumsum(np.clip(audio / audio.std() * 0.35, -1, 1)) / FS)
    x = wave[200 : 200 + n]
    y = resample(wave, np.arange(n) + 200 - delay) * np.exp(2j * np.pi * 18.0 * np.arange(n) / FS)
    noise = 0.1 * (rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n)))
    win = [SnapshotWindows(iq=s + e, sample_rate_hz=FS, ref_before=(0, 10), target=(0, n), ref_after=(n - 10, n),
                           ref_freq_hz=F_REF, target_freq_hz=457.1e6, pps_locked=True) for s, e in zip((x, y), noise)]
    res = pair_tdoa(win[0], win[1], ref_geometric_lag_s=0.0, max_tdoa_s=44 / FS)
    assert abs(res.tdoa_s * FS - delay) < 1.0, res.tdoa_s * FS
