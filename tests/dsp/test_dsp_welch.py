"""Welch PSD: equality with scipy.signal.welch, detectors, streaming accumulator."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

import dsp
from dsp.welch import window_coefficients

FS_HZ = 2.048e6
SCIPY_WINDOW = {"hann": "hann", "blackmanharris": "blackmanharris", "flattop": "flattop", "rect": "boxcar"}


def _iq(n: int, seed: int = 0) -> np.ndarray:
    """Complex noise plus two tones 20 and 10 dB above it (one between bins), as complex64."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    x += 10.0 * np.exp(2j * np.pi * 0.1234567 * t) + 3.0 * np.exp(-2j * np.pi * 0.31 * t)
    return x.astype(np.complex64)


def _scipy_reference(x, nfft, window, overlap, scaling):
    f, p = scipy.signal.welch(
        x, FS_HZ, SCIPY_WINDOW[window], nperseg=nfft, noverlap=int(nfft * overlap),
        detrend=False, return_onesided=False, scaling=scaling,
    )
    return np.fft.fftshift(f), np.fft.fftshift(p)


@pytest.mark.parametrize("window", ["hann", "blackmanharris", "flattop", "rect"])
@pytest.mark.parametrize("scaling", ["density", "spectrum"])
@pytest.mark.parametrize(("nfft", "overlap"), [(1024, 0.5), (256, 0.75), (1000, 0.0), (333, 0.3)])
def test_mean_detector_equals_scipy_welch(window, scaling, nfft, overlap):
    x = _iq(40_000 + 17)
    f, p = dsp.welch_psd(x, FS_HZ, nfft, window=window, overlap=overlap, scaling=scaling)
    f_ref, p_ref = _scipy_reference(x, nfft, window, overlap, scaling)
    np.testing.assert_allclose(p, p_ref, rtol=1e-5, atol=0)
    np.testing.assert_allclose(f, f_ref, rtol=1e-12, atol=0)


def test_mean_detector_is_accurate_against_double_precision():
    """Float32 processing, float64 accumulation: within 1e-5 of a complex128 scipy computation."""
    x = _iq(65_536, seed=3)
    _, p = dsp.welch_psd(x, FS_HZ, 2048)
    _, p_ref = _scipy_reference(x.astype(np.complex128), 2048, "hann", 0.5, "density")
    np.testing.assert_allclose(p, p_ref, rtol=1e-5)


def test_frequency_axis_is_fftshifted_offsets():
    f, _ = dsp.welch_psd(_iq(4096), FS_HZ, 1024)
    assert f[0] == -FS_HZ / 2
    assert f[512] == 0.0
    np.testing.assert_allclose(np.diff(f), FS_HZ / 1024, rtol=1e-12)


def test_tone_power_reads_correctly_with_spectrum_scaling():
    """A unit-amplitude complex tone on a bin centre reads 1.0 (0 dBFS) in its bin, for every window."""
    n, nfft = 32_768, 1024
    x = np.exp(2j * np.pi * (100 / nfft) * np.arange(n)).astype(np.complex64)
    for window in ["hann", "blackmanharris", "flattop", "rect"]:
        f, p = dsp.welch_psd(x, FS_HZ, nfft, window=window, scaling="spectrum")
        k = int(np.argmax(p))
        assert f[k] == pytest.approx(100 * FS_HZ / nfft)
        assert p[k] == pytest.approx(1.0, rel=1e-5)


def _segments_power(x, nfft, window, overlap, scaling):
    """Plain numpy per-segment scaled periodograms (reference for the non-mean detectors)."""
    win = window_coefficients(window, nfft)
    step = nfft - int(nfft * overlap)
    nseg = (x.size - nfft) // step + 1
    segs = np.stack([x[i * step : i * step + nfft] for i in range(nseg)]).astype(np.complex128) * win
    scale = 1 / (FS_HZ * np.sum(win**2)) if scaling == "density" else 1 / np.sum(win) ** 2
    return np.fft.fftshift(np.abs(np.fft.fft(segs, axis=1)) ** 2 * scale, axes=1)


@pytest.mark.parametrize("window", ["hann", "flattop"])
def test_peak_min_rms_detectors_match_numpy_reference(window):
    """Against complex128 numpy: rtol 1e-5, plus an absolute 1e-5 of the median level, because a minimum
    over 77 segments sits far below the mean where float32 FFT rounding is relatively larger."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(20_000) + 1j * rng.standard_normal(20_000) + np.exp(0.3j * np.arange(20_000)))
    x = x.astype(np.complex64)
    per_seg = _segments_power(x, 512, window, 0.5, "density")
    expected = {
        "peak": per_seg.max(axis=0),
        "min": per_seg.min(axis=0),
        "rms": np.sqrt((per_seg**2).mean(axis=0)),
        "mean": per_seg.mean(axis=0),
    }
    for detector, ref in expected.items():
        _, p = dsp.welch_psd(x, FS_HZ, 512, window=window, detector=detector)
        atol = 1e-5 * float(np.median(expected["mean"]))
        np.testing.assert_allclose(p, ref, rtol=1e-5, atol=atol, err_msg=detector)


def test_detectors_are_ordered_min_mean_rms_peak():
    x = _iq(20_000, seed=6)
    p = {d: dsp.welch_psd(x, FS_HZ, 256, detector=d)[1] for d in ["min", "mean", "rms", "peak"]}
    assert np.all(p["min"] <= p["mean"] * (1 + 1e-6))
    assert np.all(p["mean"] <= p["rms"] * (1 + 1e-6))
    assert np.all(p["rms"] <= p["peak"] * (1 + 1e-6))
    # for a noise-only bin, max-hold over 155 segments is far above the mean
    assert np.median(p["peak"] / p["mean"]) > 3.0


@pytest.mark.parametrize("detector", ["mean", "peak", "min", "rms"])
@pytest.mark.parametrize(("nfft", "overlap"), [(256, 0.5), (256, 0.0), (100, 0.9), (64, 0.75)])
def test_streaming_equals_one_call_with_odd_blocks(detector, nfft, overlap):
    x = _iq(30_011, seed=7)
    rng = np.random.default_rng(11)
    acc = dsp.WelchAccumulator(FS_HZ, nfft, window="blackmanharris", overlap=overlap, detector=detector,
                               scaling="spectrum")
    pos = 0
    sizes = [1, 2, 3, nfft - 1, nfft, nfft + 1, 7, 5000]
    while pos < x.size:
        size = sizes.pop(0) if sizes else int(rng.integers(1, 3 * nfft))
        acc.update(x[pos : pos + size])
        pos += size
    f, p = acc.result()
    f1, p1 = dsp.welch_psd(x, FS_HZ, nfft, window="blackmanharris", overlap=overlap, detector=detector,
                           scaling="spectrum")
    step = nfft - int(nfft * overlap)
    assert acc.segments == (x.size - nfft) // step + 1
    np.testing.assert_array_equal(f, f1)
    np.testing.assert_allclose(p, p1, rtol=1e-12)


def test_streaming_reset_forgets_everything():
    x = _iq(10_000)
    acc = dsp.WelchAccumulator(FS_HZ, 512, window="hann", overlap=0.5, detector="mean", scaling="density")
    acc.update(_iq(7_777, seed=9))
    acc.reset()
    assert acc.segments == 0
    acc.update(x)
    np.testing.assert_allclose(acc.result()[1], dsp.welch_psd(x, FS_HZ, 512)[1], rtol=1e-12)


def test_result_before_a_full_segment_raises():
    acc = dsp.WelchAccumulator(FS_HZ, 1024, window="hann", overlap=0.5, detector="mean", scaling="density")
    acc.update(np.zeros(1000, np.complex64))
    with pytest.raises(ValueError, match="no complete segment"):
        acc.result()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": "kaiser"}, "unknown window"),
        ({"detector": "avg"}, "unknown detector"),
        ({"scaling": "psd"}, "unknown scaling"),
        ({"overlap": 1.0}, "overlap"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dsp.welch_psd(_iq(4096), FS_HZ, 1024, **kwargs)


def test_too_short_input_raises():
    with pytest.raises(ValueError, match="fewer than nfft"):
        dsp.welch_psd(np.zeros(100, np.complex64), FS_HZ, 1024)


def test_workers_do_not_change_the_result():
    x = _iq(50_000)
    np.testing.assert_allclose(
        dsp.welch_psd(x, FS_HZ, 1024, workers=2)[1], dsp.welch_psd(x, FS_HZ, 1024)[1], rtol=1e-6
    )


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
    nfft=st.sampled_from([16, 64, 100]),
    overlap=st.sampled_from([0.0, 0.25, 0.5, 0.9]),
)
def test_streaming_equals_one_call_for_any_split(cuts, nfft, overlap):
    """Property: however the stream is cut into blocks (empty blocks included), the answer is the same."""
    x = _iq(3000, seed=12)
    acc = dsp.WelchAccumulator(FS_HZ, nfft, window="hann", overlap=overlap, detector="peak", scaling="density")
    bounds = [0, *sorted(cuts), x.size]
    for a, b in itertools.pairwise(bounds):
        acc.update(x[a:b])
    _, p1 = dsp.welch_psd(x, FS_HZ, nfft, overlap=overlap, detector="peak")
    np.testing.assert_allclose(acc.result()[1], p1, rtol=1e-12)
