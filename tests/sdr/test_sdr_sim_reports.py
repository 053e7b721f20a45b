"""The fast simulator path's emission class: what a live sensor's own sweep measures, not the truth."""

from __future__ import annotations

import pytest

from sdr.sources.sim_reports import reported_class


@pytest.mark.parametrize(("modulation", "bandwidth_hz", "expected"), [
    ("fm_broadcast", 180e3, "fm_broadcast"),  # one wide hump on throughout whose halves trade power
    ("wideband", 160e3, "wideband_digital"),  # a flat block
    ("nfm", 10e3, "unknown"),  # three bins of 3.125 kHz: the spectrum alone cannot tell NFM
])
def test_the_class_a_live_sensor_reports_at_15_db(modulation, bandwidth_hz, expected) -> None:
    bins = 3125.0 if modulation == "nfm" else 6250.0  # the shipped profiles' bins
    cls, confidence = reported_class(modulation, bandwidth_hz, 15.0, bin_hz=bins, seed=8831)
    assert cls == expected
    assert 0.35 <= confidence <= 0.7 if expected != "unknown" else confidence == 0.0  # spectrum only: 0.7 at most


def test_a_modulation_the_simulator_does_not_render_reports_no_class() -> None:
    assert reported_class("cw", 1e3, 20.0, bin_hz=3125.0, seed=1) == ("unknown", 0.0)
