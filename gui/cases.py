"""The console's cases tab: enforcement cases with their holder, hand-over, tasks and history.

Cases are the API's case JSON (``cases`` for the list, ``case`` for one with its history). The
operator can add a note, ask another province to take a case over, and close it with an outcome;
like the alert buttons, these only ask the window to call the API, and the server's answer
replaces the row, so the table shows what the server holds.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
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
from gui.labels import case_state_name, format_mhz, province_name, severity_colour, severity_name
from gui.table_model import DocumentTableModel

CASE_COLUMNS: tuple[str, ...] = ("severity", "id", "holder", "handover", "state", "band", "updated_at", "alert_id")
OUTCOMES: tuple[str, ...] = ("stopped", "licence_amended", "penalised", "referred", "not_found")
PROVINCES: tuple[str, ...] = ("SH", "JS", "ZJ", "AH")


class CaseTableModel(DocumentTableModel):
    """The latest JSON of each case, one row per case id."""

    columns = CASE_COLUMNS

    def headers(self) -> list[str]:
        return [self.tr("Severity"), self.tr("Case"), self.tr("Held by"), self.tr("Hand-over to"), self.tr("State"),
                self.tr("Band"), self.tr("Updated (UTC)"), self.tr("Alert")]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        c = self._rows[index.row()]
        col = CASE_COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == "severity":
                return severity_name(str(c.get("severity", "")))
            if col == "holder":
                return province_name(str(c.get("holder", "")))
            if col == "handover":
                return province_name(str(c["handover"]["to"])) if c.get("handover") else ""
            if col == "state":
                return case_state_name(c.get("outcome") or c.get("state"))
            if col == "band":
                return f"{c.get('band', '')} {format_mhz(c.get('f_center_hz'))}"
            if col == "updated_at":
                return str(c.get("updated_at", "")).replace("T", " ")[:19]
            return str(c.get(col, ""))
        if role == Qt.ItemDataRole.BackgroundRole and col == "severity":
            return QColor(severity_colour(str(c.get("severity", ""))))
        return None

    def upsert(self, cases: Iterable[Mapping[str, Any]]) -> None:
        for c in cases:
            i = self.row_of(str(c.get("id")))
            if i is None:
                self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
                self._rows.append(dict(c))
                self.endInsertRows()
            else:
                self._rows[i] = dict(self._rows[i]) | dict(c)
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(CASE_COLUMNS) - 1))

    def row_of(self, case_id: str) -> int | None:
        for i, c in enumerate(self._rows):
            if c.get("id") == case_id:
                return i
        return None

    def case(self, row: int) -> dict[str, Any]:
        return self.at(row)


def _case_labels() -> dict[str, str]:
    """The case pane's words, translated (literal context and text, so lupdate extracts them)."""
    return {
        "held_by": translate("CaseDetail", "Held by"), "who": translate("CaseDetail", "Who must act"),
        "handover": translate("CaseDetail", "Hand-over asked to"), "tasks": translate("CaseDetail", "Tasks"),
        "done": translate("CaseDetail", "done"), "open": translate("CaseDetail", "to do"),
        "notes": translate("CaseDetail", "Notes"), "attachments": translate("CaseDetail", "Attachments"),
        "history": translate("CaseDetail", "History"),
    }


def case_detail_html(c: Mapping[str, Any]) -> str:
    """The selected case: who must act, tasks, notes, attachments and the history with hashes."""
    e = html.escape
    L = _case_labels()
    rows = [f"<h3>{e(str(c.get('id')))} &middot; {e(case_state_name(c.get('outcome') or c.get('state')))}</h3>",
            f"<p><b>{e(L['held_by'])}</b> {e(province_name(c.get('holder')))} {e(str(c.get('assignee') or ''))}<br>"
            f"<b>{e(L['who'])}</b> {e(str(c.get('resolution') or ''))}</p>"]
    if c.get("handover"):
        ho = c["handover"]
        rows.append(f"<p><b>{e(L['handover'])}</b> {e(province_name(ho.get('to')))}: {e(str(ho.get('reason')))}</p>")
    if c.get("tasks"):
        rows.append(f"<p><b>{e(L['tasks'])}</b><br>" + "<br>".join(
            f"{e(t['task_id'])} {e(t['kind'])} ({e(province_name(t['for_province']))}) "
            f"{e(L['done'] if t['done'] else L['open'])}: {e(t['description'])} {e(t.get('result') or '')}"
            for t in c["tasks"]) + "</p>")
    if c.get("notes"):
        rows.append(f"<p><b>{e(L['notes'])}</b><br>" + "<br>".join(
            f"{e(n['t_utc'][:19])} {e(n['actor'])}: {e(n['text'])}" for n in c["notes"]) + "</p>")
    if c.get("attachments"):
        rows.append(f"<p><b>{e(L['attachments'])}</b><br>" + "<br>".join(
            f"{e(a['name'])} ({a['size_bytes']} B, sha256 {e(a['sha256'][:12])})" for a in c["attachments"]) + "</p>")
    if c.get("events"):
        rows.append(f"<p><b>{e(L['history'])}</b><br>" + "<br>".join(
            f"#{ev['seq']} {e(ev['t_utc'][:19])} {e(ev['actor'])} {e(ev['kind'])} <tt>{e(ev['hash'][:12])}</tt>"
            for ev in c["events"]) + "</p>")
    return "".join(rows)


class CasesWidget(QWidget):
    """Case table, detail pane and the operator's case actions."""

    case_selected = Signal(str)
    # (case id, action, fields) for the window to send as ``case_act``
    action_requested = Signal(str, str, dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = CaseTableModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.verticalHeader().setVisible(False)
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        self.by_edit = QLineEdit()
        self.by_edit.setPlaceholderText(self.tr("your name"))
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText(self.tr("note, reason or summary"))
        self.note_button = QPushButton(self.tr("Add note"))
        self.province_box = QComboBox()
        for p in PROVINCES:
            self.province_box.addItem(province_name(p), p)
        self.handover_button = QPushButton(self.tr("Ask to take over"))
        self.outcome_box = QComboBox()
        for o in OUTCOMES:
            self.outcome_box.addItem(case_state_name(o), o)
        self.close_button = QPushButton(self.tr("Close case"))
        self.note_button.clicked.connect(lambda: self._act("note", {"text": self.text_edit.text().strip()}))
        self.handover_button.clicked.connect(lambda: self._act("handover", {
            "to": self.province_box.currentData(), "reason": self.text_edit.text().strip()}))
        self.close_button.clicked.connect(lambda: self._act("close", {
            "outcome": self.outcome_box.currentData(), "summary": self.text_edit.text().strip()}))
        self.status = QLabel()
        self.detail = QTextBrowser()
        bar = QHBoxLayout()
        bar.addWidget(QLabel(self.tr("Operator:")))
        bar.addWidget(self.by_edit)
        bar.addWidget(self.text_edit, 1)
        bar.addWidget(self.note_button)
        bar.addWidget(self.province_box)
        bar.addWidget(self.handover_button)
        bar.addWidget(self.outcome_box)
        bar.addWidget(self.close_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(self.detail)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        self._update_buttons()

    def upsert(self, cases: Iterable[Mapping[str, Any]]) -> None:
        self.model.upsert(cases)
        self._refresh_detail()

    def selected_id(self) -> str | None:
        rows = self.view.selectionModel().selectedRows()
        return str(self.model.case(rows[0].row()).get("id")) if rows else None

    def select_case(self, case_id: str) -> bool:
        row = self.model.row_of(case_id)
        if row is None:
            return False
        self.view.selectRow(row)
        return True

    def _on_selection(self, *_args: Any) -> None:
        self._refresh_detail()
        cid = self.selected_id()
        if cid is not None:
            self.case_selected.emit(cid)

    def _refresh_detail(self) -> None:
        cid = self.selected_id()
        row = self.model.row_of(cid) if cid is not None else None
        self.detail.setHtml(case_detail_html(self.model.case(row)) if row is not None else "")
        self._update_buttons()

    def _update_buttons(self) -> None:
        cid = self.selected_id()
        row = self.model.row_of(cid) if cid is not None else None
        open_ = row is not None and self.model.case(row).get("state") == "open"
        for b in (self.note_button, self.handover_button, self.close_button):
            b.setEnabled(open_)

    def _act(self, action: str, fields: dict[str, Any]) -> None:
        cid = self.selected_id()
        if cid is None:
            return
        by = self.by_edit.text().strip()
        if not by:
            self.status.setText(self.tr("Enter your name as operator first."))
            self.by_edit.setFocus()
            return
        if action in ("note", "handover") and not fields.get("text", fields.get("reason")):
            self.status.setText(self.tr("Write the note or the reason first."))
            self.text_edit.setFocus()
            return
        self.status.setText(self.tr("Request sent for {0}...").format(cid))
        self.action_requested.emit(cid, action, fields | {"by": by})

    def show_status(self, text: str) -> None:
        self.status.setText(text)
