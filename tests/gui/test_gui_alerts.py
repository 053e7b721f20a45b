"""Alert table: rows, severity colours, state filter, acknowledge/resolve requests, detail pane."""

from __future__ import annotations

import pytest
from gui_testkit import shown
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.alerts import COLUMNS, AlertsWidget, alert_detail_html


def doc(aid: str, severity: str = "major", state: str = "open", last_seen: str = "2026-11-25T12:00:05.000000Z",
        **kw) -> dict:
    return {"id": aid, "event": "opened", "state": state, "verdicts": ["unlicensed", "cross_border"],
            "severity": severity, "severity_score": 50.0, "band": "PMR 400", "service": "land_mobile",
            "channel_hz": 409.8e6, "f_center_hz": 409.8125e6, "bandwidth_hz": 8000.0,
            "provinces_source": ["ZJ"], "provinces_affected": ["JS"],
            "sensors": [{"sensor_id": "js-01", "province": "JS", "lat": 31.3, "lon": 120.6, "measured_dbuv_m": 41.5,
                         "measured_dbm": -67.5, "predicted_dbuv_m": None, "border_limit_dbuv_m": 26.0,
                         "excess_db": 15.5}],
            "position": {"lat": 30.9, "lon": 120.3, "error_km": 6.0, "semi_major_km": 3.0, "semi_minor_km": 1.5,
                         "orientation_deg": 40.0, "provinces": {"ZJ": 0.9, "JS": 0.1}},
            "candidate_stations": [{"station_id": "ZJ-LM-0007", "province": "ZJ", "tx_freq_hz": 409.8e6,
                                    "freq_offset_hz": 12500.0, "predicted_dbuv_m": {"js-01": 20.3},
                                    "erp_dbw": 10.0}],
            "first_seen": "2026-11-25T12:00:00.000000Z", "last_seen": last_seen, "acknowledged_by": None,
            "resolved_by": None, "note": None, "evidence": ["evidence/js-01/A1-js-01-1.sigmf-data"]} | kw


@pytest.fixture
def alerts(qapp):
    with shown(AlertsWidget(), 1000, 600) as w:
        yield w


def cell(w: AlertsWidget, row: int, col: str, role=Qt.ItemDataRole.DisplayRole):
    return w.proxy.data(w.proxy.index(row, COLUMNS.index(col)), role)


def test_rows_show_the_documented_fields_with_severity_colours(alerts):
    alerts.upsert([doc("A2", "minor"), doc("A1", "critical", last_seen="2026-11-25T12:00:09Z")])
    assert alerts.visible_ids() == ["A1", "A2"]  # most severe first
    assert cell(alerts, 0, "severity") == "critical"
    assert cell(alerts, 0, "severity", Qt.ItemDataRole.BackgroundRole).name() == "#ff4d4d"
    assert cell(alerts, 1, "severity", Qt.ItemDataRole.BackgroundRole).name() == "#ffe066"
    assert cell(alerts, 0, "verdicts") == "unlicensed emission, cross-border interference"
    assert cell(alerts, 0, "band") == "PMR 400"
    assert cell(alerts, 0, "f_center_hz") == "409.8125"
    assert cell(alerts, 0, "provinces") == "Zhejiang -> Jiangsu"
    assert cell(alerts, 0, "first_seen") == "2026-11-25 12:00:00"
    assert cell(alerts, 0, "state") == "open"


def test_an_event_replaces_the_row_and_the_filter_hides_resolved(alerts):
    alerts.upsert([doc("A1"), doc("A2")])
    alerts.upsert([doc("A1", state="resolved", event="resolved", resolved_by="li")])
    assert alerts.model.rowCount() == 2
    assert alerts.visible_ids() == ["A2"]
    alerts.set_state_filter("resolved")
    assert alerts.visible_ids() == ["A1"]
    alerts.set_state_filter("all")
    assert sorted(alerts.visible_ids()) == ["A1", "A2"]


def test_acknowledge_button_asks_with_operator_and_note(qapp, alerts):
    alerts.upsert([doc("A1")])
    asked: list[tuple[str, str, str]] = []
    alerts.ack_requested.connect(lambda *a: asked.append(a))
    assert not alerts.ack_button.isEnabled()  # nothing selected
    assert alerts.select_alert("A1")
    assert alerts.ack_button.isEnabled() and alerts.resolve_button.isEnabled()
    QTest.mouseClick(alerts.ack_button, Qt.MouseButton.LeftButton)
    assert asked == [] and "name" in alerts.status.text()  # operator name required
    alerts.by_edit.setText("Wang (ZJ)")
    alerts.note_edit.setText("called the licensee")
    QTest.mouseClick(alerts.ack_button, Qt.MouseButton.LeftButton)
    assert asked == [("A1", "Wang (ZJ)", "called the licensee")]
    alerts.upsert([doc("A1", state="acknowledged", acknowledged_by="Wang (ZJ)")])
    assert not alerts.ack_button.isEnabled() and alerts.resolve_button.isEnabled()


def test_selecting_a_hidden_alert_widens_the_filter(alerts):
    alerts.upsert([doc("A1", state="resolved"), doc("A2")])
    assert alerts.visible_ids() == ["A2"]
    assert alerts.select_alert("A1", emit=False)
    assert alerts.selected_id() == "A1" and "A1" in alerts.visible_ids()
    assert not alerts.select_alert("nope")


def test_detail_pane_shows_measured_vs_predicted_candidates_and_evidence(alerts):
    alerts.upsert([doc("A1")])
    alerts.select_alert("A1")
    text = alerts.detail.toPlainText()
    for expected in ("js-01", "41.5", "-67.5", "26.0", "15.5", "ZJ-LM-0007", "12.50", "js-01: 20.3",
                     "A1-js-01-1.sigmf-data", "Zhejiang 90 %", "30.9000 N"):
        assert expected in text, expected
    assert "&lt;b&gt;" in alert_detail_html(doc("A<b>"))  # ids are escaped, never markup


def test_iq_captures_from_the_alert_op_survive_later_list_updates(alerts):
    alerts.upsert([doc("A1", evidence_captures=[{"capture_id": "A1-js-01-1", "sensor_id": "js-01",
                                                 "status": "complete", "path": "evidence/A1-js-01-1.sigmf-data"}])])
    alerts.upsert([doc("A1", last_seen="2026-11-25T12:01:00Z")])  # an "alerts" list answer: no captures
    alerts.select_alert("A1")
    text = alerts.detail.toPlainText()
    assert "IQ captures ordered: 1" in text and "A1-js-01-1" in text and "complete" in text
