"""Known answers of the synthetic emissions: what they claim is what their noise-free spectrum says."""

from __future__ import annotations

import numpy as np
import pytest

from dsp.synth import BETA_TOLERANCE, known_answer_misses, known_signal, obw_99_hz

FS = 1e6


def test_a_line_spectrum_bandwidth_jumps_with_beta_and_the_known_answer_allows_the_jump() -> None:
    # a carrier with lines at +-1 kHz (1.2 % of the power each) and +-3 kHz (0.47 % each): the 0.5 % cut
    # falls on the 1 kHz lines, 0.03 % of the power from falling on the 3 kHz lines (lines on 5 Hz bins)
    t = np.arange(200_000) / FS
    outer, inner = 0.0049, 0.012
    amps = {0.0: 1.0, 1e3: inner, -1e3: inner, 3e3: outer, -3e3: outer}
    x = sum(np.sqrt(p) * np.exp(2j * np.pi * f * t) for f, p in amps.items())
    bw = obw_99_hz(x, FS)[0]
    narrow = obw_99_hz(x, FS, beta=0.01 * (1 + BETA_TOLERANCE))[0]
    wide = obw_99_hz(x, FS, beta=0.01 * (1 - BETA_TOLERANCE))[0]
    assert bw == pytest.approx(2e3, abs=20.0)  # the cut jumped in to the 1 kHz lines
    assert narrow == pytest.approx(2e3, abs=20.0)
    assert wide == pytest.approx(6e3, abs=20.0)  # 10 % less beta and it is on the 3 kHz lines


@pytest.mark.parametrize("kind", ["ask", "am", "qpsk"])
def test_the_known_bandwidth_brackets_it_and_a_continuous_spectrum_barely_moves(kind: str) -> None:
    sig = known_signal(kind, snr_db=20.0, seed=5151)
    narrow, wide = sig.obw_span_hz
    assert narrow <= sig.obw_hz <= wide
    if kind == "qpsk":
        assert wide - narrow < 0.03 * sig.obw_hz
    # 10 % outside the bracket (and 4 bins of 244 Hz) misses; inside it does not
    hit = known_answer_misses(sig, emissions=1, center_hz=sig.center_hz, obw_hz=wide, bursts=sig.bursts,
                              bin_hz=244.0)
    miss = known_answer_misses(sig, emissions=1, center_hz=sig.center_hz,
                               obw_hz=max(1.11 * wide, wide + 4 * 244.0 + 1.0), bursts=sig.bursts, bin_hz=244.0)
    assert hit == [] and miss == ["bandwidth"]


def test_a_packet_s_switching_edges_are_part_of_its_known_spectrum() -> None:
    # the 99 % bandwidth of the packets as sent (silences add nothing, their ramps count), not of the keyed
    # samples joined end to end
    sig = known_signal("ask", snr_db=40.0, seed=5152)
    clean = known_signal("ask", snr_db=300.0, seed=5152).iq.astype(np.complex128)
    assert sig.obw_hz == pytest.approx(obw_99_hz(clean, FS)[0], rel=0.01)
