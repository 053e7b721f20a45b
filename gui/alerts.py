"""Alert table with severity colours, acknowledge/resolve, and an evidence detail pane.

Alerts are the documented alert JSON (SERVER_CONTRACT.md); the table keeps the latest document per
``id`` (an ``AlertMsg`` event or an API answer replaces it). Acknowledge/resolve do not change the
table themselves: they ask the window to call the API, and the server's answer (and its PUB
event) updates the row, so what is shown is what the server holds.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    SignalInstance,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gui.i18n import translate
from gui.labels import (
    band_name,
    format_mhz,
    province_name,
    provinces_text,
    service_name,
    severity_colour,
    severity_name,
    state_name,
    verdict_name,
)
from gui.table_model import DocumentTableModel

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("severity", "verdicts", "band", "f_center_hz", "provinces", "first_seen", "last_seen",
                            "state", "id")
STATE_FILTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("active", ("open", "acknowledged")), ("open", ("open",)), ("acknowledged", ("acknowledged",)),
    ("resolved", ("resolved",)), ("all", ("open", "acknowledged", "resolved")))
_SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "info": 3}


def _short_time(text: str | None) -> str:
    """``2026-11-25T12:00:03.123456Z`` -> ``2026-11-25 12:00:03`` (UTC, seconds)."""
    if not text:
        return ""
    return str(text).replace("T", " ")[:19]


class AlertTableModel(DocumentTableModel):
    """The latest JSON document of each alert, one row per alert id."""

    columns = COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._index: dict[str, int] = {}

    def headers(self) -> list[str]:
        return [self.tr("Severity"), self.tr("Verdict"), self.tr("Band"), self.tr("Frequency (MHz)"),
                self.tr("Provinces (source -> affected)"), self.tr("First seen (UTC)"), self.tr("Last seen (UTC)"),
                self.tr("State"), self.tr("ID")]

    # Qt model interface (rows, columns and header: DocumentTableModel)
    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        a = self._rows[index.row()]
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(a, col)
        if role == Qt.ItemDataRole.UserRole:  # sort key
            if col == "severity":
                return _SEVERITY_RANK.get(str(a.get("severity")), 9)
            if col == "f_center_hz":
                return float(a.get("f_center_hz") or 0.0)
            return self.display(a, col)
        if role == Qt.ItemDataRole.BackgroundRole and col == "severity":
            return severity_colour(a.get("severity"))
        if role == Qt.ItemDataRole.ForegroundRole and col == "severity":
            return QColor("#000000")
        if role == Qt.ItemDataRole.ToolTipRole:
            return a.get("id")
        return None

    @staticmethod
    def display(a: Mapping[str, Any], col: str) -> str:
        if col == "severity":
            return severity_name(a.get("severity"))
        if col == "verdicts":
            return ", ".join(verdict_name(v) for v in a.get("verdicts") or ())
        if col == "f_center_hz":
            return format_mhz(a.get("f_center_hz"))
        if col == "provinces":
            return f"{provinces_text(a.get('provinces_source'))} -> {provinces_text(a.get('provinces_affected'))}"
        if col in ("first_seen", "last_seen"):
            return _short_time(a.get(col))
        if col == "state":
            return state_name(a.get("state"))
        if col == "band":
            return band_name(a.get("band"))
        return str(a.get(col) or "")

    # data access
    def upsert(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        """Insert new alerts, replace known ones (by id)."""
        for a in alerts:
            aid = str(a.get("id"))
            doc = dict(a)
            i = self._index.get(aid)
            if i is None:
                self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
                self._index[aid] = len(self._rows)
                self._rows.append(doc)
                self.endInsertRows()
            else:
                old = self._rows[i]
                if "evidence_captures" in old and "evidence_captures" not in doc:
                    doc["evidence_captures"] = old["evidence_captures"]  # only the "alert" op carries them
                self._rows[i] = doc
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def replace_all(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = [dict(a) for a in alerts]
        self._index = {str(a.get("id")): i for i, a in enumerate(self._rows)}
        self.endResetModel()

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        i = self._index.get(alert_id)
        return None if i is None else self._rows[i]

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def row_of(self, alert_id: str) -> int | None:
        return self._index.get(alert_id)


class _StateFilter(QSortFilterProxyModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.states: tuple[str, ...] = STATE_FILTERS[0][1]
        self.setSortRole(Qt.ItemDataRole.UserRole)

    def set_states(self, states: tuple[str, ...]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9; invalidateFilter() is deprecated there
            self.beginFilterChange()
            self.states = states
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.states = states
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, AlertTableModel)
        return str(model.at(row).get("state")) in self.states


def _detail_labels() -> dict[str, str]:
    """The detail pane's words, translated (literal context and text, so lupdate extracts them)."""
    return {
        "alert": translate("AlertDetail", "Alert"), "band": translate("AlertDetail", "Band"),
        "bandwidth": translate("AlertDetail", "bandwidth"), "source": translate("AlertDetail", "Source"),
        "affected": translate("AlertDetail", "affected"), "first": translate("AlertDetail", "First seen"),
        "last": translate("AlertDetail", "last seen"), "acknowledged_by": translate("AlertDetail", "acknowledged by"),
        "resolved_by": translate("AlertDetail", "resolved by"), "note": translate("AlertDetail", "note"),
        "position": translate("AlertDetail", "Estimated position"), "error": translate("AlertDetail", "error"),
        "per_sensor": translate("AlertDetail", "Measured vs predicted per sensor"),
        "sensor": translate("AlertDetail", "Sensor"), "province": translate("AlertDetail", "Province"),
        "meas_field": translate("AlertDetail", "Measured dB(uV/m)"),
        "meas_dbm": translate("AlertDetail", "Measured dBm"),
        "pred_field": translate("AlertDetail", "Predicted dB(uV/m)"),
        "limit": translate("AlertDetail", "Border limit dB(uV/m)"), "excess": translate("AlertDetail", "Excess dB"),
        "candidates": translate("AlertDetail", "Candidate stations"), "station": translate("AlertDetail", "Station"),
        "tx": translate("AlertDetail", "TX (MHz)"), "offset": translate("AlertDetail", "Offset (kHz)"),
        "erp": translate("AlertDetail", "ERP (dBW)"),
        "pred_per_sensor": translate("AlertDetail", "Predicted dB(uV/m) per sensor"),
        "evidence": translate("AlertDetail", "Evidence"),
        "captures": translate("AlertDetail", "IQ captures ordered"),
        "capture": translate("AlertDetail", "Capture"), "status": translate("AlertDetail", "Status"),
        "file": translate("AlertDetail", "File"),
    }


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """An HTML table; cells are already escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table border='1' cellspacing='0' cellpadding='3'><tr>{head}</tr>{body}</table>"


def _num(v: Any, decimals: int = 1) -> str:
    return "&ndash;" if v is None else f"{float(v):.{decimals}f}"


def alert_detail_html(a: Mapping[str, Any]) -> str:
    """The detail pane: verdicts, position, measured vs predicted per sensor, candidates, evidence."""
    e = html.escape
    L = _detail_labels()
    out = [f"<h3>{e(L['alert'])} {e(str(a.get('id')))} &mdash; {e(severity_name(a.get('severity')))}"
           f" ({e(state_name(a.get('state')))})</h3>"]
    out.append("<p>" + e(", ".join(verdict_name(v) for v in a.get("verdicts") or ())) + "<br>")
    band = f"{band_name(a.get('band'))} ({service_name(a.get('service'))})"
    bw_khz = float(a.get("bandwidth_hz") or 0) / 1e3
    out.append(f"{e(L['band'])}: {e(band)}, {e(format_mhz(a.get('f_center_hz'), 5))} MHz, "
               f"{e(L['bandwidth'])} {bw_khz:.1f} kHz<br>")
    out.append(f"{e(L['source'])}: {e(provinces_text(a.get('provinces_source')))}; "
               f"{e(L['affected'])}: {e(provinces_text(a.get('provinces_affected')))}<br>")
    out.append(f"{e(L['first'])} {e(_short_time(a.get('first_seen')))}, "
               f"{e(L['last'])} {e(_short_time(a.get('last_seen')))} UTC")
    for key in ("acknowledged_by", "resolved_by", "note"):
        if a.get(key):
            out.append(f"<br>{e(L[key])}: {e(str(a[key]))}")
    out.append("</p>")
    pos = a.get("position")
    if isinstance(pos, Mapping):
        provs = ", ".join(f"{province_name(k)} {100 * float(v):.0f} %"
                          for k, v in (pos.get("provinces") or {}).items())
        err_km = float(pos.get("error_km") or 0)
        out.append(f"<p><b>{e(L['position'])}</b>: {float(pos['lat']):.4f} N, {float(pos['lon']):.4f} E, "
                   f"{e(L['error'])} {err_km:.1f} km{'; ' + e(provs) if provs else ''}</p>")
    out.append(f"<p><b>{e(L['per_sensor'])}</b></p>")
    out.append(_table(
        [L["sensor"], L["province"], L["meas_field"], L["meas_dbm"], L["pred_field"], L["limit"], L["excess"]],
        [[e(str(s.get("sensor_id"))), e(province_name(s.get("province"))), _num(s.get("measured_dbuv_m")),
          _num(s.get("measured_dbm")), _num(s.get("predicted_dbuv_m")), _num(s.get("border_limit_dbuv_m")),
          _num(s.get("excess_db"))] for s in a.get("sensors") or []]))
    cands = a.get("candidate_stations") or []
    out.append(f"<p><b>{e(L['candidates'])}</b>: {len(cands)}</p>")
    if cands:
        rows = []
        for c in cands:
            pred = c.get("predicted_dbuv_m") or {}
            pred_text = ", ".join(f"{k}: {float(v):.1f}" for k, v in pred.items()) if isinstance(pred, Mapping) else ""
            rows.append([e(str(c.get("station_id"))), e(province_name(c.get("province"))),
                         e(format_mhz(c.get("tx_freq_hz"), 5)), _num((c.get("freq_offset_hz") or 0) / 1e3, 2),
                         _num(c.get("erp_dbw")), e(pred_text)])
        out.append(_table([L["station"], L["province"], L["tx"], L["offset"], L["erp"], L["pred_per_sensor"]], rows))
    evidence = a.get("evidence") or []
    out.append(f"<p><b>{e(L['evidence'])}</b>: {len(evidence)}</p><ul>")
    out.extend(f"<li>{e(str(ev))}</li>" for ev in evidence)
    out.append("</ul>")
    captures = a.get("evidence_captures") or []
    if captures:
        out.append(f"<p><b>{e(L['captures'])}</b>: {len(captures)}</p>")
        out.append(_table([L["capture"], L["sensor"], L["status"], L["file"]],
                          [[e(str(c.get("capture_id"))), e(str(c.get("sensor_id"))), e(str(c.get("status"))),
                            e(str(c.get("path") or ""))] for c in captures]))
    return "".join(out)


class AlertsWidget(QWidget):
    """The alert table, its state filter, acknowledge/resolve and the detail pane."""

    alert_selected = Signal(str)
    ack_requested = Signal(str, str, str)      # id, by, note
    resolve_requested = Signal(str, str, str)  # id, by, note

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = AlertTableModel(self)
        self.proxy = _StateFilter(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COLUMNS.index("severity"), Qt.SortOrder.AscendingOrder)  # critical first
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.verticalHeader().setVisible(False)
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        self.filter_box = QComboBox()
        names = {"active": self.tr("Open and acknowledged"), "open": self.tr("Open"),
                 "acknowledged": self.tr("Acknowledged"), "resolved": self.tr("Resolved"), "all": self.tr("All")}
        for key, _states in STATE_FILTERS:
            self.filter_box.addItem(names[key], key)
        self.filter_box.currentIndexChanged.connect(
            lambda i: self.proxy.set_states(STATE_FILTERS[i][1]))
        self.by_edit = QLineEdit()
        self.by_edit.setPlaceholderText(self.tr("your name"))
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText(self.tr("note (optional)"))
        self.ack_button = QPushButton(self.tr("Acknowledge"))
        self.resolve_button = QPushButton(self.tr("Resolve"))
        self.ack_button.clicked.connect(lambda: self._request(self.ack_requested))
        self.resolve_button.clicked.connect(lambda: self._request(self.resolve_requested))
        self.status = QLabel()
        self.detail = QTextBrowser()
        self.detail.setOpenExternalLinks(False)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(self.tr("Show:")))
        bar.addWidget(self.filter_box)
        bar.addWidget(QLabel(self.tr("Operator:")))
        bar.addWidget(self.by_edit)
        bar.addWidget(self.note_edit, 1)
        bar.addWidget(self.ack_button)
        bar.addWidget(self.resolve_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(self.detail)
        split.setSizes([300, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self._update_buttons()

    # ------------------------------------------------------------ data

    def upsert(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        self.model.upsert(alerts)
        self._refresh_detail()

    def replace_all(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        sel = self.selected_id()
        self.model.replace_all(alerts)
        if sel is not None:
            self.select_alert(sel, emit=False)
        self._refresh_detail()

    def set_state_filter(self, key: str) -> None:
        keys = [k for k, _ in STATE_FILTERS]
        self.filter_box.setCurrentIndex(keys.index(key))

    def visible_ids(self) -> list[str]:
        """Alert ids in the table's current (filtered, sorted) order."""
        col = COLUMNS.index("id")
        return [str(self.proxy.data(self.proxy.index(r, col))) for r in range(self.proxy.rowCount())]

    # ------------------------------------------------------------ selection

    def selected_id(self) -> str | None:
        rows = self.view.selectionModel().selectedRows()
        if not rows:
            return None
        src = self.proxy.mapToSource(rows[0])
        return str(self.model.at(src.row()).get("id"))

    def select_alert(self, alert_id: str | None, emit: bool = True) -> bool:
        """Select ``alert_id`` in the table (widening the filter if it is hidden); False if unknown."""
        if alert_id is None:
            self.view.clearSelection()
            return True
        row = self.model.row_of(alert_id)
        if row is None:
            return False
        idx = self.proxy.mapFromSource(self.model.index(row, 0))
        if not idx.isValid():
            self.set_state_filter("all")
            idx = self.proxy.mapFromSource(self.model.index(row, 0))
        if self.selected_id() == alert_id:
            return True
        self.view.blockSignals(not emit)
        self.view.selectRow(idx.row())
        self.view.blockSignals(False)
        if not emit:
            self._refresh_detail()
        self.view.scrollTo(idx)
        return True

    def _on_selection(self, *_args: Any) -> None:
        self._refresh_detail()
        aid = self.selected_id()
        if aid is not None:
            self.alert_selected.emit(aid)

    def _refresh_detail(self) -> None:
        aid = self.selected_id()
        a = self.model.alert(aid) if aid is not None else None
        self.detail.setHtml(alert_detail_html(a) if a is not None else "")
        self._update_buttons()

    def _update_buttons(self) -> None:
        aid = self.selected_id()
        a = self.model.alert(aid) if aid is not None else None
        state = a.get("state") if a else None
        self.ack_button.setEnabled(state == "open")
        self.resolve_button.setEnabled(state in ("open", "acknowledged"))

    def _request(self, signal: SignalInstance) -> None:
        aid = self.selected_id()
        if aid is None:
            return
        by = self.by_edit.text().strip()
        if not by:
            self.status.setText(self.tr("Enter your name as operator first."))
            self.by_edit.setFocus()
            return
        self.status.setText(self.tr("Request sent for {0}...").format(aid))
        signal.emit(aid, by, self.note_edit.text().strip())

    def show_status(self, text: str) -> None:
        self.status.setText(text)
