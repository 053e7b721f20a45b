"""Sensor list: province, position, status (live / late / down), last seen, spool depth, drops."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from gui.labels import STATUS_COLOURS, province_name, state_name

#: status_code in the server's sensor.<id> publications
STATUS_BY_CODE = {0: "live", 1: "late", 2: "down"}


class SensorsWidget(QWidget):
    """Table of the server's sensors; selecting one chooses the live spectrum shown."""

    sensor_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sensors: dict[str, dict[str, Any]] = {}
        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels([self.tr("Sensor"), self.tr("Province"), self.tr("Position"),
                                              self.tr("Status"), self.tr("Last seen (UTC)"),
                                              self.tr("Spool depth"), self.tr("Drops")])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_selection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table)

    def set_sensors(self, sensors: Sequence[Mapping[str, Any]]) -> None:
        """Replace the list with the API's ``sensors`` answer (keeps the selection)."""
        selected = self.selected_id()
        self.sensors = {str(s["sensor_id"]): dict(s) for s in sensors}
        self._fill()
        if selected in self.sensors:
            self.select(selected, emit=False)

    def update_status(self, sensor_id: str, health: Mapping[str, Any]) -> None:
        """Apply a ``sensor.<id>`` publication (status_code, spool_depth, drops) to a known sensor."""
        s = self.sensors.get(sensor_id)
        if s is None:
            return
        code = health.get("status_code")
        if isinstance(code, (int, float)):
            s["status"] = STATUS_BY_CODE.get(int(code), s.get("status"))
        if "spool_depth" in health:
            s["spool_depth"] = health["spool_depth"]
        drops = health.get("dropped_samples", health.get("drops"))
        if drops is not None:
            s["drops"] = drops
        if health.get("_t_utc") and s.get("status") == "live":
            s["last_seen"] = health["_t_utc"]
        self._fill_row(list(self.sensors).index(sensor_id), s)

    def _fill(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.sensors))
        for r, s in enumerate(self.sensors.values()):
            self._fill_row(r, s)
        self.table.blockSignals(False)

    def _fill_row(self, r: int, s: Mapping[str, Any]) -> None:
        status = str(s.get("status") or "down")
        values = [str(s["sensor_id"]), province_name(s.get("province")),
                  f"{float(s.get('lat', 0)):.4f} N {float(s.get('lon', 0)):.4f} E", state_name(status),
                  str(s.get("last_seen") or "").replace("T", " ")[:19],
                  "" if s.get("spool_depth") is None else f"{float(s['spool_depth']):.0f}",
                  "" if s.get("drops") is None else f"{float(s['drops']):.0f}"]
        for c, v in enumerate(values):
            item = self.table.item(r, c)
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(r, c, item)
            item.setText(v)
            if c == 0:
                item.setData(Qt.ItemDataRole.UserRole, s["sensor_id"])
            if c == 3:
                item.setBackground(QColor(STATUS_COLOURS.get(status, "#a0a0a0")))
                item.setForeground(QColor("#000000"))

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def select(self, sensor_id: str, emit: bool = True) -> bool:
        ids = list(self.sensors)
        if sensor_id not in ids:
            return False
        self.table.blockSignals(not emit)
        self.table.selectRow(ids.index(sensor_id))
        self.table.blockSignals(False)
        return True

    def status_of(self, sensor_id: str) -> str | None:
        s = self.sensors.get(sensor_id)
        return None if s is None else s.get("status")

    def _on_selection(self) -> None:
        sid = self.selected_id()
        if sid is not None:
            self.sensor_selected.emit(sid)
