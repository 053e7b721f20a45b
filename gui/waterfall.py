"""Waterfall (spectrogram): a ring buffer of sweeps drawn by one ImageItem, with a colour bar.

The ring buffer is stored twice over (``2 * rows`` rows, each sweep written at ``i`` and
``i + rows``), so the rows in time order are always one contiguous slice of it: no ``np.roll``
copy per frame, only one ``setImage`` of a view, however many sweeps arrived in the frame; with
cached axes that keeps 4096-bin sweeps well above 30 frames/s (benchmarks/bench_console.py). Newest sweep
at the top; the x axis is frequency in MHz, like the spectrum plot it sits under.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from coordination.protocol import Spectrum
from gui.plotting import cache_axes

log = logging.getLogger(__name__)

DEFAULT_LEVELS_DBM: tuple[float, float] = (-125.0, -60.0)
_EMPTY_DBM = -300.0


class WaterfallWidget(QWidget):
    """Scrolling spectrogram of one sensor/profile with adjustable colour levels."""

    def __init__(self, parent: QWidget | None = None, *, rows: int = 300, colormap: str = "inferno") -> None:
        super().__init__(parent)
        if rows < 2:
            raise ValueError(f"waterfall rows must be >= 2, got {rows}")
        self.rows = rows
        self._buf = np.zeros((2 * rows, 0), np.float32)
        self._write = 0
        self.count = 0
        self._axis: tuple[float, float, int] | None = None
        self.last_t_utc: str | None = None
        self.last_seq: int | None = None

        self.plot = pg.PlotWidget(background="#101418")
        self.plot.setLabel("bottom", self.tr("Frequency"), units="MHz")
        self.plot.setLabel("left", self.tr("Sweeps (newest at top)"))
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        cache_axes(self.plot)
        self.colorbar = pg.ColorBarItem(values=DEFAULT_LEVELS_DBM, colorMap=pg.colormap.get(colormap),
                                        interactive=True, label=self.tr("dBm"), width=15)
        self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.colorbar.sigLevelsChanged.connect(self._levels_from_bar)

        self.lo_box = QDoubleSpinBox()
        self.hi_box = QDoubleSpinBox()
        for box, v in ((self.lo_box, DEFAULT_LEVELS_DBM[0]), (self.hi_box, DEFAULT_LEVELS_DBM[1])):
            box.setRange(-200.0, 50.0)
            box.setDecimals(1)
            box.setSingleStep(1.0)
            box.setValue(v)
            box.valueChanged.connect(self._levels_from_boxes)
        self.auto_button = QPushButton(self.tr("Auto levels"))
        self.auto_button.clicked.connect(self.auto_levels)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(self.tr("Levels (dBm):")))
        bar.addWidget(self.lo_box)
        bar.addWidget(QLabel(self.tr("to")))
        bar.addWidget(self.hi_box)
        bar.addWidget(self.auto_button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)

    # ------------------------------------------------------------ data

    def clear(self) -> None:
        """Drop every row (another sensor or profile was chosen)."""
        self._buf = np.zeros((2 * self.rows, 0), np.float32)
        self._axis = None
        self._write = 0
        self.count = 0
        self.image.clear()

    def _reset_axis(self, f_start_hz: float, f_step_hz: float, n_bins: int) -> None:
        self._axis = (f_start_hz, f_step_hz, n_bins)
        self._buf = np.full((2 * self.rows, n_bins), _EMPTY_DBM, np.float32)
        self._write = 0
        self.count = 0
        tr = QTransform()
        tr.translate((f_start_hz - f_step_hz / 2) / 1e6, 0.0)
        tr.scale(f_step_hz / 1e6, 1.0)
        self.image.setTransform(tr)

    def add_spectrum(self, msg: Spectrum) -> None:
        """Append one sweep (see :meth:`add_spectra` to append a frame's worth at once)."""
        self.add_spectra((msg,))

    def add_spectra(self, msgs: Iterable[Spectrum]) -> None:
        """Append sweeps in time order, then redraw once. A new frequency axis restarts the waterfall."""
        added = False
        for m in msgs:
            axis = (m.f_start_hz, m.f_step_hz, int(m.power_dbm.size))
            if axis != self._axis:
                self._reset_axis(*axis)
            self.add_row(m.power_dbm, redraw=False)
            self.last_t_utc = m.t_utc
            self.last_seq = m.seq
            added = True
        if added:
            self.redraw()

    def add_row(self, power_dbm: np.ndarray, *, redraw: bool = True) -> None:
        """Append one row of dBm values on the current axis."""
        if self._axis is None or power_dbm.size != self._buf.shape[1]:
            raise ValueError(f"row of {power_dbm.size} bins does not match the waterfall axis {self._axis}")
        w = self._write
        self._buf[w] = power_dbm
        self._buf[w + self.rows] = power_dbm
        self._write = (w + 1) % self.rows
        self.count += 1
        if redraw:
            self.redraw()

    def image_rows(self) -> np.ndarray:
        """The displayed rows, oldest first (a view, not a copy)."""
        return self._buf[self._write:self._write + self.rows]

    def latest_row(self) -> np.ndarray:
        return self._buf[(self._write - 1) % self.rows]

    def redraw(self) -> None:
        if self._axis is None:
            return
        self.image.setImage(self.image_rows(), autoLevels=False, levels=self.levels())

    # ------------------------------------------------------------ levels

    def levels(self) -> tuple[float, float]:
        lo, hi = self.colorbar.levels()
        return float(lo), float(hi)

    def set_levels(self, lo_dbm: float, hi_dbm: float) -> None:
        """Colour scale from ``lo_dbm`` (darkest) to ``hi_dbm`` (brightest)."""
        if not hi_dbm > lo_dbm:
            raise ValueError(f"waterfall levels need hi > lo, got {lo_dbm} .. {hi_dbm}")
        self.colorbar.setLevels((lo_dbm, hi_dbm))
        self._sync_boxes(lo_dbm, hi_dbm)
        self.image.setLevels((lo_dbm, hi_dbm))

    def auto_levels(self) -> None:
        """Levels from the data: 5th percentile (about the floor) to the strongest value shown."""
        if self.count == 0:
            return
        n = min(self.count, self.rows)
        data = self.image_rows()[self.rows - n:]
        lo = float(np.percentile(data, 5)) - 3.0
        hi = float(data.max()) + 3.0
        self.set_levels(lo, max(hi, lo + 10.0))

    def _levels_from_bar(self, bar: pg.ColorBarItem) -> None:
        lo, hi = self.levels()
        self._sync_boxes(lo, hi)

    def _levels_from_boxes(self) -> None:
        lo, hi = self.lo_box.value(), self.hi_box.value()
        if hi > lo and (lo, hi) != self.levels():
            self.colorbar.setLevels((lo, hi))
            self.image.setLevels((lo, hi))

    def _sync_boxes(self, lo: float, hi: float) -> None:
        for box, v in ((self.lo_box, lo), (self.hi_box, hi)):
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)
