"""The console's cases tab against a real server: the server's automatic case appears, its history
loads on selection, and a note and a closure go through the API and come back in the row."""

from __future__ import annotations

from gui_testkit import spin, temp_settings
from server_testkit import FakeEngine, SimSensor, loopback_config, make_alert

from coordination.alerts import AlertEvent
from coordination.cases import OUTCOMES as CASE_OUTCOMES
from coordination.cases import case_id_for
from coordination.server import Server
from gui import cases as gui_cases
from gui.app import MainWindow
from gui.client import ServerClient


def test_the_console_vocabulary_of_outcomes_is_the_case_desks() -> None:
    assert gui_cases.OUTCOMES == CASE_OUTCOMES


def test_cases_tab_lists_loads_and_acts_through_the_api(qapp, tmp_path, ctx) -> None:
    engine = FakeEngine()
    srv = Server(loopback_config(tmp_path), engine=engine).start()
    s = SimSensor(ctx, srv.endpoints["sensors"])
    s.hello()
    engine.queued = [AlertEvent("opened", make_alert("A-gui", source=("ZJ",), affected=("JS",)))]
    s.send(s.emissions(1))
    s.wait_acked({1})
    cid = case_id_for("A-gui")
    client = ServerClient(srv.endpoints["api"], srv.endpoints["pub"], timeout_s=5.0)
    win = MainWindow(client=client, settings=temp_settings(tmp_path / "console.ini"), frame_interval_ms=20,
                     refresh_interval_ms=200)
    win.show()
    try:
        view = win.cases_view

        def row():
            r = view.model.row_of(cid)
            return view.model.case(r) if r is not None else {}

        spin(qapp, lambda: row().get("holder") == "ZJ")
        assert view.select_case(cid)
        spin(qapp, lambda: bool(row().get("events")))
        assert "opened" in view.detail.toPlainText()
        view.by_edit.setText("zj-duty-officer")
        view.text_edit.setText("team 2 sent to Jiaxing")
        view.note_button.click()
        spin(qapp, lambda: len(row().get("notes") or []) == 1)
        view.outcome_box.setCurrentIndex(list(gui_cases.OUTCOMES).index("penalised"))
        view.text_edit.setText("fined under the radio regulations")
        view.close_button.click()
        spin(qapp, lambda: row().get("state") == "closed")
        assert (row()["outcome"], row()["closed_by"]) == ("penalised", "zj-duty-officer")
        assert not view.close_button.isEnabled()
    finally:
        win.close()
        win.deleteLater()
        s.close()
        srv.stop()
