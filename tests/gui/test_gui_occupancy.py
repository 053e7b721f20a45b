"""Occupancy: FCO heat map in %, band chooser, band occupancy over time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from gui.occupancy import BandChoice, OccupancyWidget

CENTERS = 446.00625e6 + 12_500.0 * np.arange(16)


def rows(n: int = 3) -> list[dict]:
    out = []
    for k in range(n):
        fco = np.zeros(16)
        fco[3] = 0.5 + 0.1 * k
        fco[12] = 1.0
        out.append({"t_start_utc": f"2026-11-25T12:0{k}:00Z", "t_end_utc": f"2026-11-25T12:0{k + 1}:00Z",
                    "fco": fco.tolist(), "fbo": float(fco.mean())})
    return out


@pytest.fixture
def occ(qapp):
    w = OccupancyWidget()
    w.set_bands([BandChoice("low half", 446.0e6, 446.1e6), BandChoice("nothing", 500e6, 501e6)])
    yield w
    w.deleteLater()


def test_heat_map_is_fco_in_percent_per_interval_and_channel(occ):
    occ.set_occupancy(CENTERS, rows())
    img = occ.image.image
    assert img.shape == (3, 16)
    assert img[:, 3] == pytest.approx([50.0, 60.0, 70.0])
    assert np.all(img[:, 12] == 100.0) and img[0, 0] == 0.0
    t, fbo = occ.band_occupancy()
    assert fbo == pytest.approx([100 * (0.5 + 1.0) / 16, 100 * (0.6 + 1.0) / 16, 100 * (0.7 + 1.0) / 16])
    assert t[0] == datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC).timestamp()  # the first interval's middle
    assert "3 intervals" in occ.info.text()


def test_choosing_a_band_narrows_channels_and_averages_their_fco(occ):
    occ.set_occupancy(CENTERS, rows())
    occ.select_band("low half")
    cols = occ.selected_columns()
    assert list(cols) == list(range(8))  # 446.00625 .. 446.09375 MHz
    assert occ.image.image.shape == (3, 8)
    _, occ_pct = occ.band_occupancy()
    assert occ_pct == pytest.approx([100 * 0.5 / 8, 100 * 0.6 / 8, 100 * 0.7 / 8])
    occ.select_band("nothing")
    assert occ.heat_map().shape == (0, 0) and "No occupancy" in occ.info.text()
    with pytest.raises(ValueError):
        occ.select_band("no such band")


def test_rows_on_another_channel_axis_are_skipped(occ):
    bad = rows(1)[0] | {"fco": [0.5] * 10}
    occ.set_occupancy(CENTERS, [*rows(2), bad])
    assert len(occ.rows) == 2
