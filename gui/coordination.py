"""The console's coordination tab: the requests waiting for my province's answer and their border plot.

A neighbour that plans an assignment near our border asks us first (``borderwatch coord``); this tab
lists what waits for our answer (who asks, the station, the worst field the P.1546 computation puts
on our border, how much of the border is over the trigger value, the deadline) and, for the selected
request, the predicted field along our border against the limit: where the station would be heard
and by how much. The window feeds it from the server's ``coord_requests`` / ``coord_request`` ops;
this widget holds no socket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.labels import format_mhz, province_name
from gui.plotting import cache_axes
from station_db.models import MEMBER_PROVINCES


class CoordinationWidget(QWidget):
    """Requests waiting for ``province`` (the operator's) and the selected one's field along our border."""

    province_changed = Signal(str)
    request_selected = Signal(str)

    def __init__(self, province: str = "SH", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.province_box = QComboBox()
        for code in MEMBER_PROVINCES:
            self.province_box.addItem(province_name(code), code)
        self.province_box.setCurrentIndex(list(MEMBER_PROVINCES).index(province) if province in MEMBER_PROVINCES
                                          else 0)
        self.province_box.currentIndexChanged.connect(
            lambda _i: self.province_changed.emit(self.province))
        self.status = QLabel()
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("My province:")))
        top.addWidget(self.province_box)
        top.addWidget(self.status, 1)

        self.headers = [self.tr("Request"), self.tr("From"), self.tr("Station"), self.tr("Frequency (MHz)"),
                        self.tr("Worst field (dBuV/m)"), self.tr("Over the limit (km)"), self.tr("Deadline")]
        self.table = QTableWidget(0, len(self.headers))
        self.table.setHorizontalHeaderLabels(self.headers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._on_selection)

        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", self.tr("Position along the border (km)"))
        self.plot.setLabel("left", self.tr("Predicted field (dBuV/m)"))
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        cache_axes(self.plot)
        self.field_curve = self.plot.plot([], [], pen=pg.mkPen("#d62728", width=2))
        self.limit_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#1f77b4", style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.limit_line)
        self.limit_line.setVisible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.plot, 2)
        self.rows: list[dict[str, Any]] = []
        self.shown_request: str | None = None
        self.show_requests([])

    @property
    def province(self) -> str:
        return str(self.province_box.currentData())

    def show_requests(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Fill the table with request summaries (the ``coord_requests`` op's documents)."""
        keep = self.selected_request()
        self.rows = [dict(r) for r in rows]
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            mine: dict[str, Any] = next((b for b in r.get("borders", ()) if b.get("neighbour") == self.province), {})
            cells = [str(r.get("id", "")), province_name(r.get("province")),
                     str(r.get("station_id", "")), format_mhz(r.get("tx_freq_hz")),
                     "" if not mine else f"{float(mine['worst_field_dbuv_m']):.1f}",
                     "" if not mine else f"{float(mine['length_over_km']):.1f}", str(r.get("deadline", ""))[:10]]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, r.get("id"))
                self.table.setItem(i, j, item)
        self.status.setText(self.tr("{0} request(s) waiting for {1}").format(len(self.rows),
                                                                          province_name(self.province)))
        if keep is not None:
            for i, r in enumerate(self.rows):
                if r.get("id") == keep:
                    self.table.selectRow(i)

    def selected_request(self) -> str | None:
        items = self.table.selectedItems()
        return None if not items else str(items[0].data(Qt.ItemDataRole.UserRole))

    def _on_selection(self) -> None:
        rid = self.selected_request()
        if rid is not None and rid != self.shown_request:
            self.request_selected.emit(rid)

    def show_profile(self, request_id: str, along_km: np.ndarray, field_dbuv_m: np.ndarray,
                     limit_dbuv_m: float) -> None:
        """Plot the predicted field along our border with the limit."""
        self.shown_request = request_id
        self.field_curve.setData(np.asarray(along_km, dtype=float), np.asarray(field_dbuv_m, dtype=float))
        self.limit_line.setValue(float(limit_dbuv_m))
        self.limit_line.setVisible(True)
        self.plot.setTitle(self.tr("{0}: field along the {1} border, limit {2:g} dBuV/m").format(
            request_id, province_name(self.province), float(limit_dbuv_m)))

    def clear_profile(self) -> None:
        self.shown_request = None
        self.field_curve.setData([], [])
        self.limit_line.setVisible(False)
        self.plot.setTitle("")
