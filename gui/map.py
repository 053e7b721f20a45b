"""Map of the four provinces: borders, sensors, licensed stations, open alerts with uncertainty.

Plain lon/lat axes (no tile server: the console must work offline), aspect locked to the local
scale (1 deg of longitude is cos(lat) of a degree of latitude). Province outlines come from
``station_db.geo.default_boundaries()``. An alert is drawn at its estimated position with its
uncertainty region: the 1-sigma ellipse (semi-axes in km, major axis azimuth from north,
clockwise) or, for a single-sensor fix, the annulus around that sensor. An alert located by time
differences of arrival also shows its TDOA fix (a cross) and, when selected, the hyperbola of each
sensor pair (:mod:`station_db.hyperbolas`). Clicking an alert emits :attr:`MapWidget.alert_clicked` so the
window can select it everywhere.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.labels import SEVERITY_COLOURS, STATUS_COLOURS, band_name, province_name
from gui.occupancy import BandChoice
from gui.plotting import cache_axes
from station_db.geo import Boundaries
from station_db.hyperbolas import tdoa_hyperbolas
from station_db.models import MEMBER_PROVINCES
from station_db.regions import km_to_deg, position_outlines

log = logging.getLogger(__name__)

#: Most licensed stations drawn (a scatter of thousands stays fast; this bounds pathological DBs).
MAX_STATIONS = 20_000


def province_rings(boundaries: Boundaries) -> dict[str, list[np.ndarray]]:
    """Outline rings (n x 2, lon/lat) per province code."""
    return {c: [np.asarray(r, float) for r in boundaries.rings(c)] for c in boundaries.codes}


class MapWidget(QWidget):
    """Provinces, sensors, stations (filtered by band) and alerts on lon/lat axes."""

    alert_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, boundaries: Boundaries | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="#f4f1ea")
        self.plot.setLabel("bottom", self.tr("Longitude (deg E)"))
        self.plot.setLabel("left", self.tr("Latitude (deg N)"))
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        cache_axes(self.plot)
        self.plot.getPlotItem().vb.setAspectLocked(True, ratio=math.cos(math.radians(31.0)))
        self.province_items: list[pg.PlotCurveItem] = []
        self.province_labels: dict[str, pg.TextItem] = {}
        self.home_range: tuple[float, float, float, float] | None = None
        self.stations_item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(60, 90, 200, 140))
        self.sensors_item = pg.ScatterPlotItem(size=12, symbol="t1", pen=pg.mkPen("k"))
        self.alerts_item = pg.ScatterPlotItem(size=16, symbol="star", pen=pg.mkPen("k"), hoverable=True)
        self.alerts_item.sigClicked.connect(self._on_alert_clicked)
        for it in (self.stations_item, self.sensors_item, self.alerts_item):
            self.plot.addItem(it)
        self.stations_item.setZValue(1)
        self.sensors_item.setZValue(3)
        self.alerts_item.setZValue(4)
        self.sensor_labels: list[pg.TextItem] = []
        self.region_items: dict[str, list[pg.GraphicsObject]] = {}
        self.alerts: dict[str, Mapping[str, Any]] = {}
        self.selected_alert: str | None = None
        self._stations: list[Mapping[str, Any]] = []
        self.bands: list[BandChoice] = []
        self.band_box = QComboBox()
        self.band_box.addItem(self.tr("All bands"))
        self.band_box.currentIndexChanged.connect(lambda _i: self._draw_stations())
        self.info = QLabel()
        bar = QHBoxLayout()
        bar.addWidget(QLabel(self.tr("Stations in band:")))
        bar.addWidget(self.band_box)
        bar.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)
        if boundaries is None:
            from station_db.geo import default_boundaries

            boundaries = default_boundaries()
        self.set_boundaries(boundaries)

    # ------------------------------------------------------------ provinces

    def set_boundaries(self, boundaries: Boundaries) -> None:
        for it in (*self.province_items, *self.province_labels.values()):
            self.plot.removeItem(it)
        self.province_items, self.province_labels = [], {}
        member_pen = pg.mkPen("#404040", width=1.8)
        other_pen = pg.mkPen("#b0b0b0", width=1)
        member_xy = []
        for code, rings in province_rings(boundaries).items():
            member = code in MEMBER_PROVINCES
            for ring in rings:
                closed = np.vstack([ring, ring[:1]])
                if member:
                    member_xy.append(ring)
                item = pg.PlotCurveItem(closed[:, 0], closed[:, 1], pen=member_pen if member else other_pen,
                                        antialias=member)
                item.setZValue(0)
                self.plot.addItem(item)
                self.province_items.append(item)
            if not member:
                continue
            biggest = max(rings, key=len)
            label = pg.TextItem(province_name(code), color="#505050", anchor=(0.5, 0.5))
            label.setPos(float(biggest[:, 0].mean()), float(biggest[:, 1].mean()))
            self.plot.addItem(label)
            self.province_labels[code] = label
        self.home_range = None
        if member_xy:
            xy = np.vstack(member_xy)
            self.home_range = (float(xy[:, 0].min()), float(xy[:, 0].max()), float(xy[:, 1].min()),
                               float(xy[:, 1].max()))
        self.reset_view()

    def reset_view(self) -> None:
        """Show the four member provinces (or everything when the boundaries have none of them)."""
        if self.home_range is None:
            self.plot.autoRange()
            return
        x0, x1, y0, y1 = self.home_range
        self.plot.getPlotItem().vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.03)

    # ------------------------------------------------------------ sensors

    def set_sensors(self, sensors: Sequence[Mapping[str, Any]]) -> None:
        """Sensors as the API lists them (sensor_id, lat, lon, status)."""
        for it in self.sensor_labels:
            self.plot.removeItem(it)
        self.sensor_labels = []
        spots = []
        for s in sensors:
            colour = STATUS_COLOURS.get(str(s.get("status")), "#a0a0a0")
            spots.append({"pos": (float(s["lon"]), float(s["lat"])), "brush": pg.mkBrush(colour),
                          "data": s["sensor_id"]})
            label = pg.TextItem(str(s["sensor_id"]), color="#202020", anchor=(0.5, -0.3))
            label.setPos(float(s["lon"]), float(s["lat"]))
            self.plot.addItem(label)
            self.sensor_labels.append(label)
        self.sensors_item.setData(spots)

    # ------------------------------------------------------------ stations

    def set_bands(self, bands: Sequence[BandChoice]) -> None:
        self.bands = list(bands)
        self.band_box.blockSignals(True)
        self.band_box.clear()
        self.band_box.addItem(self.tr("All bands"))
        for b in self.bands:
            self.band_box.addItem(band_name(b.name), b.name)
        self.band_box.blockSignals(False)
        self._draw_stations()

    def select_band(self, name: str | None) -> None:
        i = 0 if name is None else self.band_box.findData(name)
        if i < 0:
            raise ValueError(f"band {name!r} not offered")
        self.band_box.setCurrentIndex(i)

    def set_stations(self, stations: Sequence[Mapping[str, Any]]) -> None:
        """Licensed stations (dicts with lat, lon, tx_freq_hz, station_id)."""
        self._stations = list(stations)[:MAX_STATIONS]
        self._draw_stations()

    def shown_stations(self) -> list[Mapping[str, Any]]:
        i = self.band_box.currentIndex()
        if i <= 0 or i > len(self.bands):
            return list(self._stations)
        b = self.bands[i - 1]
        return [s for s in self._stations if b.f_lo_hz <= float(s["tx_freq_hz"]) < b.f_hi_hz]

    def _draw_stations(self) -> None:
        shown = self.shown_stations()
        if shown:
            xy = np.array([(float(s["lon"]), float(s["lat"])) for s in shown])
            self.stations_item.setData(x=xy[:, 0], y=xy[:, 1], data=[s.get("station_id") for s in shown])
        else:
            self.stations_item.setData(x=[], y=[])
        self.info.setText(self.tr("{0} stations shown").format(len(shown)))

    # ------------------------------------------------------------ alerts

    def set_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Alerts to draw: those not resolved and with an estimated position."""
        self.alerts = {str(a["id"]): a for a in alerts
                       if a.get("state") != "resolved" and isinstance(a.get("position"), Mapping)}
        for items in self.region_items.values():
            for it in items:
                self.plot.removeItem(it)
        self.region_items = {}
        spots = []
        for aid, a in self.alerts.items():
            pos = a["position"]
            colour = SEVERITY_COLOURS.get(str(a.get("severity")), "#d0d0d0")
            selected = aid == self.selected_alert
            spots.append({"pos": (float(pos["lon"]), float(pos["lat"])), "brush": pg.mkBrush(colour),
                          "size": 22 if selected else 16, "data": aid,
                          "pen": pg.mkPen("#0000ff" if selected else "k", width=2 if selected else 1)})
            self.region_items[aid] = self._region(pos, colour, selected)
            tdoa = a.get("tdoa")
            if isinstance(tdoa, Mapping) and isinstance(tdoa.get("position"), Mapping):
                self.region_items[aid] += self._tdoa_items(tdoa, selected)
        self.alerts_item.setData(spots)

    def _tdoa_items(self, tdoa: Mapping[str, Any], selected: bool) -> list[pg.GraphicsObject]:
        """The TDOA fix as a cross; the pairs' hyperbolas for the selected alert only (they cross the map)."""
        fix = tdoa["position"]
        mark = pg.ScatterPlotItem([float(fix["lon"])], [float(fix["lat"])], size=14, symbol="x",
                                  pen=pg.mkPen("#b000b0", width=2), brush=pg.mkBrush("#b000b0"))
        mark.setZValue(5)
        self.plot.addItem(mark)
        items: list[pg.GraphicsObject] = [mark]
        if selected:
            for xy in tdoa_hyperbolas(tdoa):
                pen = pg.mkPen("#b000b0", width=1.2, style=Qt.PenStyle.DashLine)
                it = pg.PlotCurveItem(xy[:, 0], xy[:, 1], pen=pen)
                it.setZValue(2)
                self.plot.addItem(it)
                items.append(it)
        return items

    def _region(self, pos: Mapping[str, Any], colour: str, selected: bool) -> list[pg.PlotCurveItem]:
        pen = pg.mkPen(colour, width=3 if selected else 1.5)
        if selected:
            pen = pg.mkPen("#0000ff", width=2.5)
        items = []
        for xy in position_outlines(pos):
            it = pg.PlotCurveItem(xy[:, 0], xy[:, 1], pen=pen)
            it.setZValue(2)
            self.plot.addItem(it)
            items.append(it)
        return items

    def select_alert(self, alert_id: str | None) -> None:
        """Highlight one alert (or none) and bring its region into view."""
        if alert_id == self.selected_alert:
            return
        self.selected_alert = alert_id
        self.set_alerts(list(self.alerts.values()))
        a = self.alerts.get(alert_id or "")
        if a is not None:
            pos = a["position"]
            # the region with some context around it (at least 40 km each side)
            r_km = max(float(pos.get("r_outer_km") or pos.get("semi_major_km") or 5.0) * 1.5, 40.0)
            vb = self.plot.getPlotItem().vb
            lat, lon = float(pos["lat"]), float(pos["lon"])
            dlon, dlat = km_to_deg(lat, r_km, r_km)
            vb.setRange(xRange=(lon - dlon, lon + dlon), yRange=(lat - dlat, lat + dlat), padding=0.1)

    def _on_alert_clicked(self, _item: pg.ScatterPlotItem, points: Sequence[Any], *_ev: Any) -> None:
        if len(points):
            self.alert_clicked.emit(str(points[0].data()))
