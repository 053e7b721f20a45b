"""The simulator's fast kernels: each against its numpy twin, plus bit-exactness where promised."""

from __future__ import annotations

import numpy as np

from sdr.sources import sim_waveforms as wf


def test_quantizers_match_their_numpy_twin_in_place_and_out_of_place_to_the_bit() -> None:
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(2 * 40_001) * 0.7).astype(np.float32)  # odd pair count: the loop tail too
    x[:4] = [2.0, -2.0, 0.996, -0.996]  # both clips and the top/bottom codes
    offset = np.array([0.01, -0.02], np.float32)
    want = wf.quantize_u8_np(x, offset)
    out = np.empty_like(x)
    wf.quantize_u8(x, offset, out)
    np.testing.assert_array_equal(out, want)
    y = x.copy()
    wf.quantize_u8_inplace(y, offset)
    np.testing.assert_array_equal(y, want)
    assert y[0] == np.float32(1.0) and y[1] == np.float32(-1.0)


RATE = 2.4e6
NFM = ((88.5, 300.0), (610.0, 900.0), (1770.0, 800.0))
FM = ((433.0, 26e3), (1370.0, 24e3), (6830.0, 20e3), (19e3, 7.5e3))


def _angle_args(tones: tuple[tuple[float, float], ...], carrier_hz: float, rng: np.random.Generator):
    tone_inc = np.array([wf.nco_increment(f, RATE) for f, _ in tones], dtype=np.int64)
    tone_p0 = rng.integers(0, 2**32, len(tones)).astype(np.int64)
    beta = np.array([dev / f / (2 * np.pi) for f, dev in tones], dtype=np.float64)
    incs = np.concatenate([[wf.nco_increment(carrier_hz, RATE)], tone_inc]).astype(np.int64)
    p0s = np.concatenate([[int(rng.integers(0, 2**32))], tone_p0]).astype(np.int64)
    return incs, p0s, beta, wf.phasor_tables(incs)


def test_sincos_turns_is_accurate_and_matches_its_twin() -> None:
    x = np.linspace(-12.0, 12.0, 200_001, dtype=np.float32)
    c_np, s_np = wf.sincos_turns_np(x)
    got = np.array([wf.sincos_turns(v) for v in x[::97]], dtype=np.float32)
    np.testing.assert_array_equal(got[:, 0], c_np[::97])
    np.testing.assert_array_equal(got[:, 1], s_np[::97])
    ref = 2 * np.pi * x.astype(np.float64)
    assert np.max(np.abs(c_np - np.cos(ref))) < 1.5e-6
    assert np.max(np.abs(s_np - np.sin(ref))) < 1.5e-6


def test_phasor_table_is_the_nco_phase_of_each_offset() -> None:
    inc = wf.nco_increment(-250e3, RATE)
    t = wf.phasor_table(inc)
    r = np.arange(wf.ANCHOR)
    want = np.exp(2j * np.pi * ((r * inc) % 2**32) / 2**32)
    assert t.shape == (2, wf.ANCHOR) and t.dtype == np.float32
    np.testing.assert_allclose(t[0] + 1j * t[1], want, atol=1e-7)


def test_angle_modulated_phasor_matches_its_twin_the_table_kernel_and_any_chunking() -> None:
    rng = np.random.default_rng(11)
    n = 5 * wf.ANCHOR + 321
    for tones, table_err in (((), 0.3 * 2 * np.pi / wf.TABLE_SIZE), (NFM, 3e-3), (FM, 0.05)):
        incs, p0s, beta, ptab = _angle_args(tones, -312.5e3, rng)
        for k0 in (0, 1000, 2**37 + 777):
            a = np.zeros(n, np.complex64)
            wf.add_angle_modulated_phasor(a.view(np.float32), k0, 0.3, incs, p0s, beta, ptab)
            b = np.zeros(n, np.complex64)
            wf.add_angle_modulated_phasor_np(b.view(np.float32), k0, 0.3, incs, p0s, beta, ptab)
            np.testing.assert_allclose(a, b, atol=1e-6)
            # a pure function of the absolute sample index: chunked rendering is identical to the bit
            c = np.zeros(n, np.complex64)
            for s0, s1 in ((0, 1), (1, 1500), (1500, 1500 + wf.ANCHOR), (1500 + wf.ANCHOR, n)):
                wf.add_angle_modulated_phasor(c[s0:s1].view(np.float32), k0 + s0, 0.3, incs, p0s, beta, ptab)
            np.testing.assert_array_equal(a, c)
            # the same waveform as the 12-bit table kernel, within that kernel's own phase truncation
            t = np.zeros(n, np.complex64)
            wf.add_angle_modulated(t, k0, 0.3, int(incs[0]), int(p0s[0]), incs[1:], p0s[1:], beta,
                                   wf.SIN_TABLE, wf.COS_TABLE)
            assert np.max(np.abs(a - t)) < table_err
            np.testing.assert_allclose(np.abs(a), 0.3, rtol=3e-6)


def test_enveloped_phasor_matches_its_twin_the_table_kernel_and_any_chunking() -> None:
    rng = np.random.default_rng(12)
    n = 40_000
    inc = wf.nco_increment(41_666.7, RATE)
    ptab = wf.phasor_table(inc)
    for modulation, symbol_rate_hz in (("ook", 2000.0), ("gmsk_burst", 9600.0), ("qpsk_burst", 24e3)):
        env = wf.burst_envelope(modulation, 120, rng)
        step = symbol_rate_hz * wf.ENV_OVERSAMPLE / RATE
        # burst starting inside the block and ending inside it, starting before it, and not reaching it
        for k0, env_k0 in ((10_000, 10_100.37), (10_000, 9_000.5), (10_000, 10_000 + n + 0.5)):
            a = np.zeros(n, np.complex64)
            wf.add_enveloped_phasor(a.view(np.float32), k0, 0.5, inc, 5, ptab, env, env_k0, step)
            b = np.zeros(n, np.complex64)
            wf.add_enveloped_phasor_np(b.view(np.float32), k0, 0.5, inc, 5, ptab, env, env_k0, step)
            np.testing.assert_allclose(a, b, atol=1e-6)
            t = np.zeros(n, np.complex64)
            wf.add_enveloped_carrier(t, k0, 0.5, inc, 5, env, env_k0, step, wf.SIN_TABLE, wf.COS_TABLE)
            np.testing.assert_array_equal(a != 0, t != 0)  # keyed on exactly the same samples
            if env_k0 == 10_100.37 and modulation == "gmsk_burst":  # constant envelope while keyed
                assert not np.any(a[:101]) and np.all(a[101:2000] != 0)
            assert np.max(np.abs(a - t)) < 0.5 * 2 * np.pi / wf.TABLE_SIZE * 1.5
            c = np.zeros(n, np.complex64)
            for s0, s1 in ((0, 99), (99, 100), (100, 12_345), (12_345, n)):
                wf.add_enveloped_phasor(c[s0:s1].view(np.float32), k0 + s0, 0.5, inc, 5, ptab, env, env_k0, step)
            np.testing.assert_array_equal(a, c)
        assert not np.any(a)  # the last case: the burst starts after the block, nothing is added


def test_scale_i16_matches_its_twin_to_the_bit() -> None:
    src = np.random.default_rng(5).integers(-32767, 32768, 70_001).astype(np.int16)
    out = np.empty(src.size, np.float32)
    wf.scale_i16(src, np.float32(3.1e-7), out)
    np.testing.assert_array_equal(out, wf.scale_i16_np(src, 3.1e-7))


def test_enveloped_phasor_with_more_than_one_envelope_point_per_sample() -> None:
    """A fast burst at a low sample rate (env_step > 1): every sample its own envelope interval."""
    rng = np.random.default_rng(13)
    env = wf.burst_envelope("qpsk_burst", 64, rng)
    inc = wf.nco_increment(-7e3, 100e3)
    ptab = wf.phasor_table(inc)
    n = 600
    for step in (1.0, 1.7, 3.25):
        a = np.zeros(n, np.complex64)
        wf.add_enveloped_phasor(a.view(np.float32), 50, 0.25, inc, 9, ptab, env, 61.5, step)
        b = np.zeros(n, np.complex64)
        wf.add_enveloped_phasor_np(b.view(np.float32), 50, 0.25, inc, 9, ptab, env, 61.5, step)
        np.testing.assert_allclose(a, b, atol=1e-6)
        keyed = np.flatnonzero(np.abs(b) > 0)
        assert keyed[0] == 12 and keyed[-1] <= 12 + (env.size - 1) / step
