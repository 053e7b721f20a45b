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
