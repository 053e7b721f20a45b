"""The slotted Welch accumulator: the dwell's Welch estimate, plus a mean PSD per time slot."""

from __future__ import annotations

import numpy as np
import pytest

from dsp import welch_psd
from dsp.slotted_welch import SlottedWelch, accumulate_slots, accumulate_slots_np, slot_layout


def _noise(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)


@pytest.mark.parametrize(("first", "per_slot", "nseg"), [(0, 3, 10), (4, 3, 9), (5, 2, 12), (0, 1, 7)])
def test_accumulate_slots_matches_numpy(first, per_slot, nseg) -> None:
    rng = np.random.default_rng(first + per_slot)
    spec = (rng.standard_normal((nseg, 64)) + 1j * rng.standard_normal((nseg, 64))).astype(np.complex64)
    slots = np.full((4, 64), 7.0, np.float32)  # stale rows from an earlier dwell
    ref = slots.copy()
    accumulate_slots(spec, nseg, first, per_slot, slots)
    accumulate_slots_np(spec, nseg, first, per_slot, ref)
    np.testing.assert_allclose(slots, ref, rtol=1e-5)
    # the meaning: a row that got a first segment holds the sum of its segments' |X|^2 (stale value gone)
    p = np.abs(spec.astype(np.complex128)) ** 2
    segs = first + np.arange(nseg)
    for r in range(4):
        mine = np.flatnonzero(np.minimum(segs // per_slot, 3) == r)
        if mine.size and (first <= r * per_slot):
            np.testing.assert_allclose(slots[r], p[mine].sum(axis=0), rtol=1e-4)


@pytest.mark.parametrize("detector", ["mean", "peak", "min", "rms"])
def test_result_equals_welch_whatever_the_block_sizes(detector) -> None:
    x = _noise(50_000, 3) + 0.3 * np.exp(2j * np.pi * 0.1 * np.arange(50_000)).astype(np.complex64)
    acc = SlottedWelch(1e6, 256, x.size, detector=detector)
    for a, b in ((0, 100), (100, 7_000), (7_000, 7_001), (7_001, 50_000)):
        acc.update(x[a:b])
    f, p = acc.result()
    f_ref, p_ref = welch_psd(x, 1e6, 256, detector=detector)
    np.testing.assert_array_equal(f, f_ref)
    np.testing.assert_allclose(p, p_ref, rtol=1e-5)
    assert acc.segments == (x.size - 256) // 128 + 1


def test_slots_say_when_a_burst_was_on() -> None:
    fs, n = 1e6, 200_000  # 0.2 s
    x = 0.01 * _noise(n, 5)
    t = np.arange(n) / fs
    on = (t >= 0.050) & (t < 0.090)
    x[on] += np.exp(2j * np.pi * 100e3 * t[on]).astype(np.complex64)
    acc = SlottedWelch(fs, 512, n)
    acc.update(x)
    sums, weights = acc.slot_sums()
    assert acc.slot_s == pytest.approx(0.002, rel=0.2)
    assert sums.shape == (acc.n_slots, 512)
    tone = round(100e3 / fs * 512)  # FFT order: bin k is k * fs / nfft
    level = sums[:, tone] * weights
    starts = np.arange(sums.shape[0]) * acc.slot_s
    lit = starts[level > 100 * np.median(level)]
    assert lit.min() == pytest.approx(0.050, abs=acc.slot_s + 512 / fs)
    assert lit.max() + acc.slot_s == pytest.approx(0.090, abs=acc.slot_s + 512 / fs)
    # and the rows average to the dwell's estimate
    _, mean = acc.result()
    np.testing.assert_allclose(np.fft.fftshift((sums * weights[:, None]).sum(axis=0) / acc.segments
                                               * acc.segs_per_slot), mean, rtol=0.05)


def test_slot_layout_keeps_2_ms_and_caps_the_rows() -> None:
    assert slot_layout(2.4e6, 2048, 0.5, 600_000) == (5, 117)  # 1024-sample hops: 5 segments ~ 2.1 ms
    per, rows = slot_layout(2.4e6, 2048, 0.5, 24_000_000)  # 10 s dwell: longer slots, at most 256 rows
    assert rows <= 256 and per * rows * 1024 >= 24_000_000 - 2048
    assert slot_layout(2.4e6, 8192, 0.5, 600_000)[0] == 1  # segments longer than a slot: one per slot


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="detector"):
        SlottedWelch(1e6, 256, 10_000, detector="median")
    with pytest.raises(ValueError, match="slot_s"):
        SlottedWelch(1e6, 256, 10_000, slot_s=0.0)
    with pytest.raises(ValueError, match="no complete segment"):
        SlottedWelch(1e6, 256, 10_000).result()
