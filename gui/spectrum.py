"""Live spectrum plot: current trace, max/min hold, average, noise floor, threshold, markers, stations.

The traces are kept in dBm (what the sensor measures at its antenna port); the unit switch only
changes what is drawn: dB(uV/m) adds 107 dB and the spectrum's antenna factor (dsp.dbm_to_dbuv_m),
so holds survive a unit change. The frequency axis is drawn in MHz. Licensed stations appear as
labelled spans ``[tx - bw/2, tx + bw/2]``; markers are draggable vertical lines with a readout of
the current trace's level at their frequency.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from coordination.protocol import Spectrum
from dsp import dbm_to_dbuv_m
from gui.plotting import cache_axes

log = logging.getLogger(__name__)

UNITS: tuple[str, ...] = ("dBm", "dBuV/m")
TRACES: tuple[str, ...] = ("current", "max", "min", "average")
#: Most station spans drawn at once (the band view shows a handful; a wide view shows the first ones).
MAX_STATION_SPANS = 150
#: Station names are written only when at most this many stations are in the visible range.
MAX_STATION_LABELS = 24
_TRACE_PENS = {"current": pg.mkPen("#f0e040", width=1), "max": pg.mkPen("#ff5050", width=1),
               "min": pg.mkPen("#50a0ff", width=1), "average": pg.mkPen("#40e080", width=1)}


@dataclass(frozen=True)
class StationSpan:
    """A licensed station drawn on the spectrum: its transmit band and a short label."""

    f_lo_hz: float
    f_hi_hz: float
    label: str


class SpectrumWidget(QWidget):
    """One sensor's live spectrum with holds, average, floor/threshold lines, markers and stations."""

    markers_changed = Signal()

    def __init__(self, parent: QWidget | None = None, *, average_frames: int = 16) -> None:
        super().__init__(parent)
        self.average_frames = max(1, average_frames)
        self.unit = "dBm"
        self.frames = 0
        self._last: Spectrum | None = None
        self._freqs_mhz: np.ndarray = np.zeros(0)
        self._traces_dbm: dict[str, np.ndarray] = {}
        self._station_items: list[pg.GraphicsObject] = []
        self.highlight_item: pg.LinearRegionItem | None = None
        self._stations: list[StationSpan] = []
        self.markers: list[pg.InfiniteLine] = []
        self._marker_labels: list[pg.TextItem] = []

        self.plot = pg.PlotWidget(background="#101418")
        self.plot.setLabel("bottom", self.tr("Frequency"), units="MHz")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(-10, 10))
        cache_axes(self.plot)
        pi = self.plot.getPlotItem()
        pi.setClipToView(True)
        pi.setDownsampling(auto=True, mode="peak")
        self.curves: dict[str, pg.PlotDataItem] = {}
        names = {"current": self.tr("Current"), "max": self.tr("Max hold"), "min": self.tr("Min hold"),
                 "average": self.tr("Average")}
        for name in TRACES:
            c = self.plot.plot([], [], pen=_TRACE_PENS[name], name=names[name], skipFiniteCheck=True)
            c.setZValue(10 if name == "current" else 5)
            self.curves[name] = c
        self.floor_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#a0a0a0", style=Qt.PenStyle.DashLine),
                                          label=self.tr("noise floor"), labelOpts={"position": 0.05,
                                                                                    "color": "#a0a0a0"})
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#ff9040", style=Qt.PenStyle.DashLine),
                                              label=self.tr("threshold"), labelOpts={"position": 0.15,
                                                                                     "color": "#ff9040"})
        for line in (self.floor_line, self.threshold_line):
            line.setVisible(False)
            self.plot.addItem(line, ignoreBounds=True)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.plot.getPlotItem().vb.sigXRangeChanged.connect(self._update_station_labels)

        self.unit_box = QComboBox()
        self.unit_box.addItems([self.tr("dBm"), self.tr("dB(uV/m)")])
        self.unit_box.currentIndexChanged.connect(lambda i: self.set_unit(UNITS[i]))
        self.show_boxes: dict[str, QCheckBox] = {}
        bar = QHBoxLayout()
        bar.addWidget(QLabel(self.tr("Unit:")))
        bar.addWidget(self.unit_box)
        for name in ("max", "min", "average"):
            box = QCheckBox(names[name])
            box.setChecked(True)
            box.toggled.connect(lambda on, n=name: self.curves[n].setVisible(on))
            self.show_boxes[name] = box
            bar.addWidget(box)
        self.reset_button = QPushButton(self.tr("Reset holds"))
        self.reset_button.clicked.connect(self.reset_holds)
        self.clear_markers_button = QPushButton(self.tr("Clear markers"))
        self.clear_markers_button.clicked.connect(self.clear_markers)
        bar.addWidget(self.reset_button)
        bar.addWidget(self.clear_markers_button)
        bar.addStretch(1)
        self.readout = QLabel(self.tr("Double-click the plot to place a marker"))
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.readout)
        self._update_axis_label()

    # ------------------------------------------------------------ data

    def clear(self) -> None:
        """Forget the traces (another sensor or profile was chosen)."""
        self._last = None
        self._traces_dbm = {}
        self.frames = 0
        for c in self.curves.values():
            c.setData([], [])
        self.floor_line.setVisible(False)
        self.threshold_line.setVisible(False)

    def reset_holds(self) -> None:
        """Restart max/min hold and the average from the current trace."""
        cur = self._traces_dbm.get("current")
        if cur is None:
            return
        for name in ("max", "min", "average"):
            self._traces_dbm[name] = cur.copy()
        self.frames = 1
        self._redraw()

    def set_spectrum(self, msg: Spectrum) -> None:
        """Show a new sweep; holds and average restart when the frequency axis changes."""
        self.set_spectra((msg,))

    def set_spectra(self, msgs: Sequence[Spectrum]) -> None:
        """Accumulate several sweeps (oldest first) into the holds and average, then redraw once."""
        axis_changed = False
        for msg in msgs:
            axis_changed |= self._accumulate(msg)
        if not msgs:
            return
        self._redraw()
        if axis_changed:
            self._draw_stations()

    def _accumulate(self, msg: Spectrum) -> bool:
        power = np.asarray(msg.power_dbm, dtype=np.float32)
        last = self._last
        same_axis = (last is not None and last.power_dbm.size == power.size and last.f_start_hz == msg.f_start_hz
                     and last.f_step_hz == msg.f_step_hz)
        if not same_axis:
            self._freqs_mhz = (msg.f_start_hz + msg.f_step_hz * np.arange(power.size)) / 1e6
            self._traces_dbm = {"max": power.copy(), "min": power.copy(), "average": power.copy()}
            self.frames = 0
        else:
            np.maximum(self._traces_dbm["max"], power, out=self._traces_dbm["max"])
            np.minimum(self._traces_dbm["min"], power, out=self._traces_dbm["min"])
            # exponential average in dB over ~average_frames sweeps (first frames: running mean)
            alpha = np.float32(1.0 / min(self.frames + 1, self.average_frames))
            avg = self._traces_dbm["average"]
            avg += alpha * (power - avg)
        self._traces_dbm["current"] = power
        self._last = msg
        self.frames += 1
        return not same_axis

    def trace_dbm(self, name: str = "current") -> np.ndarray:
        """A trace in dBm (``current``, ``max``, ``min``, ``average``); empty before the first sweep."""
        return self._traces_dbm.get(name, np.zeros(0, np.float32))

    def trace_shown(self, name: str = "current") -> tuple[np.ndarray, np.ndarray]:
        """(frequency MHz, level in the shown unit) as drawn."""
        return self._freqs_mhz, self._to_unit(self.trace_dbm(name))

    def level_at(self, freq_hz: float, name: str = "current") -> float | None:
        """The trace level (shown unit) in the bin containing ``freq_hz``; None outside the sweep."""
        msg = self._last
        if msg is None:
            return None
        i = round((freq_hz - msg.f_start_hz) / msg.f_step_hz)
        if not 0 <= i < msg.power_dbm.size:
            return None
        return float(self._to_unit(self.trace_dbm(name)[i:i + 1])[0])

    def set_unit(self, unit: str) -> None:
        """Draw in ``dBm`` or ``dBuV/m``."""
        if unit not in UNITS:
            raise ValueError(f"unit {unit!r} not one of {UNITS}")
        self.unit = unit
        idx = UNITS.index(unit)
        if self.unit_box.currentIndex() != idx:
            self.unit_box.setCurrentIndex(idx)
        self._update_axis_label()
        self._redraw()

    def _to_unit(self, values_dbm: np.ndarray) -> np.ndarray:
        if self.unit == "dBm":
            return values_dbm
        af = self._last.antenna_factor_db_m if self._last is not None else 0.0
        return np.asarray(dbm_to_dbuv_m(values_dbm, af))

    def _update_axis_label(self) -> None:
        self.plot.setLabel("left", self.tr("Level (dBm)") if self.unit == "dBm"
                           else self.tr("Field strength (dB(uV/m))"))

    def _redraw(self) -> None:
        if "current" not in self._traces_dbm:
            return
        x = self._freqs_mhz
        for name, c in self.curves.items():
            c.setData(x, self._to_unit(self._traces_dbm[name]))
        msg = self._last
        assert msg is not None
        for line, value in ((self.floor_line, msg.noise_floor_dbm), (self.threshold_line, msg.threshold_dbm)):
            known = value is not None and math.isfinite(value)  # an archive may not store the threshold
            if known:
                line.setPos(float(self._to_unit(np.asarray(value))))
            line.setVisible(known)
        self._update_readout()

    # ------------------------------------------------------------ stations

    def set_stations(self, spans: list[StationSpan]) -> None:
        """Licensed stations to draw (those inside the sweep are shown, at most MAX_STATION_SPANS)."""
        self._stations = list(spans)
        self._draw_stations()

    def station_items(self) -> list[pg.GraphicsObject]:
        return list(self._station_items)

    def _draw_stations(self) -> None:
        for item in self._station_items:
            self.plot.removeItem(item)
        self._station_items = []
        self._station_labels: list[tuple[float, pg.InfLineLabel]] = []
        if self._freqs_mhz.size == 0:
            return
        lo, hi = float(self._freqs_mhz[0]) * 1e6, float(self._freqs_mhz[-1]) * 1e6
        shown = [s for s in self._stations if s.f_hi_hz >= lo and s.f_lo_hz <= hi][:MAX_STATION_SPANS]
        for k, s in enumerate(shown):
            region = pg.LinearRegionItem(values=(s.f_lo_hz / 1e6, s.f_hi_hz / 1e6), movable=False,
                                         brush=pg.mkBrush(80, 160, 255, 35), pen=pg.mkPen(80, 160, 255, 60))
            region.setZValue(-10)
            region.setToolTip(s.label)
            label = pg.InfLineLabel(region.lines[0], text=s.label, position=0.92 - 0.07 * (k % 5),
                                    rotateAxis=(1, 0), anchor=(1, 1), color="#80b0ff")
            region.lines[0].label = label
            self.plot.addItem(region, ignoreBounds=True)
            self._station_items.append(region)
            self._station_labels.append(((s.f_lo_hz + s.f_hi_hz) / 2e6, label))
        self._update_station_labels()

    def _update_station_labels(self, *_args: object) -> None:
        """Name the stations only when few enough are in view to read (zoom in to see the rest)."""
        labels = getattr(self, "_station_labels", [])
        if not labels:
            return
        x0, x1 = self.plot.getPlotItem().vb.viewRange()[0]
        in_view = [lab for f, lab in labels if x0 <= f <= x1]
        readable = len(in_view) <= MAX_STATION_LABELS
        for f, lab in labels:
            lab.setVisible(readable and x0 <= f <= x1)

    def station_labels_shown(self) -> list[str]:
        return [lab.format for _f, lab in getattr(self, "_station_labels", []) if lab.isVisible()]

    def highlight(self, f_lo_hz: float | None, f_hi_hz: float | None = None, label: str = "") -> None:
        """Mark the band of the selected alert (None removes the mark)."""
        if self.highlight_item is not None:
            self.plot.removeItem(self.highlight_item)
            self.highlight_item = None
        if f_lo_hz is None:
            return
        f_hi_hz = f_lo_hz if f_hi_hz is None else f_hi_hz
        item = pg.LinearRegionItem(values=(f_lo_hz / 1e6, f_hi_hz / 1e6), movable=False,
                                   brush=pg.mkBrush(255, 60, 60, 60), pen=pg.mkPen("#ff4040", width=2))
        if label:
            item.lines[1].label = pg.InfLineLabel(item.lines[1], text=label, position=0.97, anchor=(0, 0),
                                                  color="#ff6060")
        item.setZValue(-5)
        self.plot.addItem(item, ignoreBounds=True)
        self.highlight_item = item

    # ------------------------------------------------------------ markers

    def _on_click(self, ev) -> None:  # pyqtgraph MouseClickEvent
        if not ev.double():
            return
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        self.add_marker(float(vb.mapSceneToView(ev.scenePos()).x()) * 1e6)

    def add_marker(self, freq_hz: float) -> None:
        """Place a draggable marker at ``freq_hz`` with a level readout."""
        line = pg.InfiniteLine(pos=freq_hz / 1e6, angle=90, movable=True, pen=pg.mkPen("#ffffff", width=1))
        text = pg.TextItem(color="#ffffff", anchor=(0, 1))
        self.plot.addItem(line, ignoreBounds=True)
        self.plot.addItem(text, ignoreBounds=True)
        line.sigPositionChanged.connect(self._update_readout)
        self.markers.append(line)
        self._marker_labels.append(text)
        self._update_readout()
        self.markers_changed.emit()

    def clear_markers(self) -> None:
        for item in (*self.markers, *self._marker_labels):
            self.plot.removeItem(item)
        self.markers, self._marker_labels = [], []
        self._update_readout()
        self.markers_changed.emit()

    def marker_readouts(self) -> list[tuple[float, float | None]]:
        """(frequency Hz, current level in the shown unit) per marker."""
        return [(float(m.value()) * 1e6, self.level_at(float(m.value()) * 1e6)) for m in self.markers]

    def _update_readout(self) -> None:
        if not self.markers:
            self.readout.setText(self.tr("Double-click the plot to place a marker"))
            return
        parts = []
        unit = self.tr("dBm") if self.unit == "dBm" else self.tr("dB(uV/m)")
        for k, ((f_hz, level), text) in enumerate(zip(self.marker_readouts(), self._marker_labels, strict=True)):
            value = "--" if level is None else f"{level:.1f} {unit}"
            parts.append(f"M{k + 1}: {f_hz / 1e6:.5f} MHz  {value}")
            text.setText(f"M{k + 1} {value}")
            text.setPos(f_hz / 1e6, level if level is not None else 0.0)
        self.readout.setText("    ".join(parts))
