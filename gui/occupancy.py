"""Occupancy view: FCO per channel per interval as a heat map, and band occupancy over time.

Input is what the server's ``occupancy`` op returns (ITU-R SM.1880 frequency-channel occupancy per
channel per measurement interval, plus the band's FBO). A band chosen from the coordination rules
narrows the heat map to that band's channels, and its occupancy over time is then the mean FCO
over those channels (equal-width channels: the SM.1880 band occupancy); with no band chosen the
sensor's own FBO of the whole profile is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from coordination.protocol import parse_utc
from gui.labels import band_name
from gui.plotting import cache_axes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BandChoice:
    """A band the user can narrow the view to."""

    name: str
    f_lo_hz: float
    f_hi_hz: float


@dataclass(frozen=True)
class OccupancyRow:
    """One measurement interval: FCO per channel (0..1) and the band occupancy."""

    t_start_s: float
    t_end_s: float
    fco: np.ndarray
    fbo: float

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> OccupancyRow:
        return cls(parse_utc(d["t_start_utc"], "t_start_utc").timestamp(),
                   parse_utc(d["t_end_utc"], "t_end_utc").timestamp(),
                   np.asarray(d["fco"], dtype=np.float32), float(d["fbo"]))


class OccupancyWidget(QWidget):
    """Channels x time FCO heat map over a band occupancy-vs-time plot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.centers_hz = np.zeros(0)
        self.rows: list[OccupancyRow] = []
        self.bands: list[BandChoice] = []
        self.heat = pg.PlotWidget(background="#101418")
        self.heat.setLabel("bottom", self.tr("Channel"), units="MHz")
        self.heat.setLabel("left", self.tr("Interval (newest at top)"))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.heat.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0.0, 100.0), colorMap=pg.colormap.get("viridis"), interactive=False,
                                        label=self.tr("FCO (%)"), width=15)
        self.colorbar.setImageItem(self.image, insert_in=self.heat.getPlotItem())
        self.fbo_plot = pg.PlotWidget(background="#101418", axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.fbo_plot.setLabel("left", self.tr("Band occupancy (%)"))
        self.fbo_plot.setLabel("bottom", self.tr("Time (UTC)"))
        self.fbo_plot.setYRange(0, 100)
        self.fbo_curve = self.fbo_plot.plot([], [], pen=pg.mkPen("#40e080", width=2), symbol="o", symbolSize=4)
        for p in (self.heat, self.fbo_plot):
            cache_axes(p)
        self.band_box = QComboBox()
        self.band_box.addItem(self.tr("Whole profile"))
        self.band_box.currentIndexChanged.connect(lambda _i: self.redraw())
        self.info = QLabel()
        bar = QHBoxLayout()
        bar.addWidget(QLabel(self.tr("Band:")))
        bar.addWidget(self.band_box)
        bar.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.heat, 3)
        layout.addWidget(self.fbo_plot, 2)

    def set_bands(self, bands: Sequence[BandChoice]) -> None:
        """Bands offered in the chooser (typically the coordination rules' bands)."""
        current = self.band_box.currentData()
        self.bands = list(bands)
        self.band_box.blockSignals(True)
        self.band_box.clear()
        self.band_box.addItem(self.tr("Whole profile"))
        for b in self.bands:
            self.band_box.addItem(band_name(b.name), b.name)
        i = self.band_box.findData(current) if current is not None else 0
        self.band_box.setCurrentIndex(max(i, 0))
        self.band_box.blockSignals(False)
        self.redraw()

    def select_band(self, name: str | None) -> None:
        i = 0 if name is None else self.band_box.findData(name)
        if i < 0:
            raise ValueError(f"band {name!r} not offered")
        self.band_box.setCurrentIndex(i)

    def set_occupancy(self, channel_centers_hz: Sequence[float] | np.ndarray,
                      rows: Sequence[OccupancyRow | Mapping[str, Any]]) -> None:
        """Replace the data: channel centres and intervals (oldest first); rows on another axis are skipped."""
        self.centers_hz = np.asarray(channel_centers_hz, dtype=np.float64)
        parsed = [r if isinstance(r, OccupancyRow) else OccupancyRow.from_json(r) for r in rows]
        self.rows = [r for r in parsed if r.fco.size == self.centers_hz.size]
        if len(self.rows) != len(parsed):
            log.info("occupancy: %d rows on another channel axis skipped", len(parsed) - len(self.rows))
        self.redraw()

    def selected_columns(self) -> np.ndarray:
        """Indices of the channels shown (all, or those of the chosen band)."""
        i = self.band_box.currentIndex()
        if i <= 0 or i > len(self.bands):
            return np.arange(self.centers_hz.size)
        b = self.bands[i - 1]
        return np.flatnonzero((self.centers_hz >= b.f_lo_hz) & (self.centers_hz < b.f_hi_hz))

    def band_occupancy(self) -> tuple[np.ndarray, np.ndarray]:
        """(interval mid-times s since epoch, band occupancy in %) as plotted."""
        if not self.rows:
            return np.zeros(0), np.zeros(0)
        t = np.array([(r.t_start_s + r.t_end_s) / 2 for r in self.rows])
        if self.band_box.currentIndex() <= 0:
            occ = np.array([r.fbo for r in self.rows])
        else:
            cols = self.selected_columns()
            occ = np.array([float(r.fco[cols].mean()) if cols.size else 0.0 for r in self.rows])
        return t, 100.0 * occ

    def heat_map(self) -> np.ndarray:
        """FCO in % (intervals x shown channels), oldest interval first."""
        cols = self.selected_columns()
        if not self.rows or cols.size == 0:
            return np.zeros((0, cols.size), np.float32)
        return 100.0 * np.stack([r.fco[cols] for r in self.rows]).astype(np.float32)

    def redraw(self) -> None:
        data = self.heat_map()
        cols = self.selected_columns()
        if data.size == 0:
            self.image.clear()
            self.fbo_curve.setData([], [])
            self.info.setText(self.tr("No occupancy data"))
            return
        centers = self.centers_hz[cols]
        step = float(np.median(np.diff(centers))) if centers.size > 1 else 12_500.0
        tr = QTransform()
        tr.translate((centers[0] - step / 2) / 1e6, 0.0)
        tr.scale(step / 1e6, 1.0)
        self.image.setImage(data, autoLevels=False, levels=(0.0, 100.0))
        self.image.setTransform(tr)
        t, occ = self.band_occupancy()
        self.fbo_curve.setData(t, occ)
        self.info.setText(self.tr("{0} channels, {1} intervals, latest band occupancy {2:.1f} %").format(
            centers.size, len(self.rows), float(occ[-1])))
