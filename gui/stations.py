"""Station browser: search licensed stations by frequency, province and service; show the record.

The browser only builds the query (the API ``stations`` op's arguments) and shows answers; the
window runs the query through the server, or, with no server, through a read-only local
``station_db`` repository (:func:`local_search`), so the widget never blocks on either.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gui.labels import PROVINCES, SERVICES, format_mhz, province_name, service_name, station_status_name
from station_db.repository import StationRepository

_RESULT_COLUMNS = ("station_id", "station_name", "province", "licensee", "service", "tx_freq_hz",
                   "emission_designator", "erp_dbw", "status")


def local_search(repo: StationRepository, args: Mapping[str, Any], limit: int = 5000) -> list[dict[str, Any]]:
    """The ``stations`` API op against a local StationRepository (same arguments, same dicts)."""
    f_lo, f_hi = args.get("f_lo_hz"), args.get("f_hi_hz")
    province, service = args.get("province"), args.get("service")
    if f_lo is not None and f_hi is not None:
        found = repo.query(freq_hz=(f_lo + f_hi) / 2, bandwidth_hz=f_hi - f_lo, province=province, service=service)
    elif f_lo is not None or f_hi is not None:
        found = repo.query(freq_hz=f_lo if f_lo is not None else f_hi, province=province, service=service)
    else:
        found = repo.query(province=province, service=service)
    return [s.to_dict() for s in found[:limit]]


class StationsWidget(QWidget):
    """Search form, result table and the selected station's full record."""

    search_requested = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: list[dict[str, Any]] = []
        self.freq_box = QDoubleSpinBox()
        self.freq_box.setRange(0.0, 7000.0)
        self.freq_box.setDecimals(4)
        self.freq_box.setSuffix(" MHz")
        self.freq_box.setSpecialValueText(self.tr("any"))
        self.span_box = QDoubleSpinBox()
        self.span_box.setRange(0.0, 1_000_000.0)
        self.span_box.setDecimals(1)
        self.span_box.setValue(25.0)
        self.span_box.setSuffix(" kHz")
        self.province_box = QComboBox()
        self.province_box.addItem(self.tr("any"), None)
        for code in PROVINCES:
            self.province_box.addItem(province_name(code), code)
        self.service_box = QComboBox()
        self.service_box.addItem(self.tr("any"), None)
        for code in SERVICES:
            self.service_box.addItem(service_name(code), code)
        self.search_button = QPushButton(self.tr("Search"))
        self.search_button.clicked.connect(self.search)
        form = QFormLayout()
        form.addRow(self.tr("Frequency:"), self.freq_box)
        form.addRow(self.tr("Span:"), self.span_box)
        form.addRow(self.tr("Province:"), self.province_box)
        form.addRow(self.tr("Service:"), self.service_box)
        top = QHBoxLayout()
        top.addLayout(form)
        top.addWidget(self.search_button, 0, Qt.AlignmentFlag.AlignBottom)
        top.addStretch(1)
        self.table = QTableWidget(0, len(_RESULT_COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr("Station"), self.tr("Name"), self.tr("Province"),
                                              self.tr("Licensee"),
                                              self.tr("Service"), self.tr("TX (MHz)"), self.tr("Emission"),
                                              self.tr("ERP (dBW)"), self.tr("Status")])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._show_record)
        self.record = QTextBrowser()
        self.count_label = QLabel()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.record)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.count_label)
        layout.addWidget(split, 1)

    def query_args(self) -> dict[str, Any]:
        """The ``stations`` op arguments for the form's current values."""
        args: dict[str, Any] = {}
        f_mhz = self.freq_box.value()
        if f_mhz > 0:
            half = self.span_box.value() * 1e3 / 2
            args["f_lo_hz"] = f_mhz * 1e6 - half
            args["f_hi_hz"] = f_mhz * 1e6 + half
        if self.province_box.currentData():
            args["province"] = self.province_box.currentData()
        if self.service_box.currentData():
            args["service"] = self.service_box.currentData()
        return args

    def search(self) -> None:
        self.count_label.setText(self.tr("Searching..."))
        self.search_requested.emit(self.query_args())

    def set_query(self, *, freq_mhz: float = 0.0, span_khz: float | None = None, province: str | None = None,
                  service: str | None = None) -> None:
        self.freq_box.setValue(freq_mhz)
        if span_khz is not None:
            self.span_box.setValue(span_khz)
        self.province_box.setCurrentIndex(max(0, self.province_box.findData(province)) if province else 0)
        self.service_box.setCurrentIndex(max(0, self.service_box.findData(service)) if service else 0)

    def show_results(self, stations: Sequence[Mapping[str, Any]]) -> None:
        self.results = [dict(s) for s in stations]
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.results))
        for r, s in enumerate(self.results):
            values = [str(s.get("station_id")), str(s.get("station_name") or ""), province_name(s.get("province")),
                      str(s.get("licensee") or ""), service_name(s.get("service")), format_mhz(s.get("tx_freq_hz"), 5),
                      str(s.get("emission_designator") or ""), f"{float(s.get('erp_dbw') or 0):.1f}",
                      station_status_name(s.get("status"))]
            for c, v in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(v))
        self.table.blockSignals(False)
        self.count_label.setText(self.tr("{0} stations found").format(len(self.results)))
        self.record.clear()

    def show_error(self, text: str) -> None:
        self.count_label.setText(self.tr("Search failed: {0}").format(text))

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    def _show_record(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.record.clear()
            return
        s = self.results[rows[0].row()]
        e = html.escape
        lines = "".join(f"<tr><td><b>{e(str(k))}</b></td><td>{e(str(v))}</td></tr>" for k, v in s.items())
        self.record.setHtml(f"<table cellpadding='2'>{lines}</table>")
