"""Cases in the server: store tables on SQLite and PostgreSQL, two federated centres on one store, the
automatic opening from major alerts up, the API's case ops over ZeroMQ, and tampering found by verify."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from datetime import timedelta

import pytest
from case_testkit import T0, alert_doc
from server_testkit import FakeEngine, SimSensor, connected_sub, loopback_config, make_alert, wait_for

from coordination import cases
from coordination.alerts import AlertEvent
from coordination.casebook import CaseConflictError, CaseDesk
from coordination.caselog import seal, verify
from coordination.cases import Actor
from coordination.client import ApiClient, ApiError
from coordination.server import Server
from coordination.store import Store
from coordination.tasking import TaskingDesk, TaskingPolicy

JS, ZJ = Actor("js-op", ("JS",)), Actor("zj-op", ("ZJ",))


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "shared.sqlite")
    return request.getfixturevalue("pg_url")


def t(s: float):
    return T0 + timedelta(seconds=s)


def test_hand_over_and_closure_across_two_federated_centres_on_one_store(target) -> None:
    zj_store, js_store = Store(target, centre="ZJ"), Store(target, centre="JS")
    try:
        zj, js = CaseDesk(zj_store.cases), CaseDesk(js_store.cases)
        doc = alert_doc("A-fed-1", source=("ZJ",), affected=("JS",))
        c = zj.open(doc, t(0), auto=True)
        assert js.open(doc, t(1), auto=True).n_events == 1  # the other centre finds the same case
        zj.act(c.id, lambda c: cases.ask_handover(c, "JS", "the fix moved 3 km into Suzhou", t(10), ZJ))
        c = js.act(c.id, lambda c: cases.answer_handover(c, True, t(20), JS))
        assert c.holder == "JS"
        c = js.act(c.id, lambda c: cases.add_task(c, "field_search", "search Wujiang", t(30), JS))
        c = js.act(c.id, lambda c: cases.close(c, "stopped", "taxi radio retuned", t(40), JS))
        seen_by_zj = zj.get(c.id)
        assert (seen_by_zj.state, seen_by_zj.holder, seen_by_zj.outcome, seen_by_zj.n_events) == \
            ("closed", "JS", "stopped", 5)
        assert verify(c.id, zj_store.cases.case_events(c.id)).ok
        assert js_store.cases.case_ids(state="closed", province="ZJ") == [c.id]
        assert js_store.cases.case_ids(state="open") == []
        # a stale writer cannot append behind the head: one row per (case, seq)
        stale = seal(seen_by_zj.events[-2], cases.CaseEvent(c.id, 5, "note", t(50), "zj-op", "ZJ", {"text": "x"}))
        with pytest.raises(CaseConflictError):
            zj_store.cases.append_event(stale)
    finally:
        zj_store.close()
        js_store.close()


def test_an_event_edited_in_the_database_is_found_by_verify(tmp_path) -> None:
    path = tmp_path / "server.db"
    store = Store(path)
    desk = CaseDesk(store.cases)
    c = desk.open(alert_doc("A-t-1"), t(0))
    for i in range(3):
        c = desk.act(c.id, lambda c, i=i: cases.add_note(c, f"note {i}", t(10 + i), JS))
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE case_events SET data = ? WHERE case_id = ? AND seq = 3",
                   ('{"text":"note 1 (quietly changed)"}', c.id))
    store = Store(path)
    try:
        r = verify(c.id, store.cases.case_events(c.id))
        assert (r.ok, r.bad_seq) == (False, 3)
    finally:
        store.close()


def test_tasking_audit_is_kept_in_the_store(tmp_path) -> None:
    store = Store(tmp_path / "server.db")
    try:
        tables = store.cases
        desk = TaskingDesk({"JS": TaskingPolicy("JS", "auto", 1)}, {"js-01": "JS"}.get, tables)
        r1 = desk.request("SH", "js-01", "iq_snapshot", {}, "DF fix", "sh-op", T0)
        r2 = desk.request("SH", "js-01", "iq_snapshot", {}, "again", "sh-op", T0)
        assert (r1.state, r2.state) == ("granted", "pending")
        rows = tables.tasking_audit()
        assert [(r[1], r[2]) for r in rows] == [(r1.id, "requested"), (r1.id, "granted"), (r2.id, "requested"),
                                                 (r2.id, "queued")]
    finally:
        store.close()


def test_server_opens_cases_for_major_alerts_and_serves_the_case_ops(tmp_path, ctx) -> None:
    engine = FakeEngine()
    srv = Server(loopback_config(tmp_path), engine=engine).start()
    try:
        s = SimSensor(ctx, srv.endpoints["sensors"])
        s.hello()
        minor = make_alert("A-minor", source=("JS",), affected=()).evolve(severity="minor")
        engine.queued = [AlertEvent("opened", make_alert("A-major", source=("ZJ",), affected=("JS",))),
                         AlertEvent("opened", minor)]
        s.send(s.emissions(1))
        s.wait_acked({1})
        cid = cases.case_id_for("A-major")
        with ApiClient(srv.endpoints["api"]) as api:
            got = wait_for(lambda: api.result("cases", {"state": "open"}))
            assert [(c["id"], c["holder"], c["auto"]) for c in got] == [(cid, "ZJ", True)]
            assert cases.case_id_for("A-minor") not in {c["id"] for c in got}
            with pytest.raises(ApiError, match="no case"):
                api.result("case", {"id": cid, "as_provinces": ["AH"]})  # not involved: as if it did not exist
            zj = {"by": "zj-team", "as_provinces": ["ZJ"]}
            js = {"by": "js-team", "as_provinces": ["JS"]}
            api.result("case_act", {"id": cid, "action": "handover", "to": "JS", "reason": "fix in JS"} | zj)
            with pytest.raises(ApiError, match="only JS"):
                api.result("case_act", {"id": cid, "action": "handover_answer", "accept": True} | zj)
            api.result("case_act", {"id": cid, "action": "handover_answer", "accept": True} | js)
            photo = bytes(range(256)) * 300  # 76 800 bytes: three chunks
            for off in range(0, len(photo), 32768):
                api.result("case_upload", {"upload_id": "ab" * 16, "offset": off,
                                           "data_b64": base64.b64encode(photo[off:off + 32768]).decode()} | js)
            api.result("case_act", {"id": cid, "action": "attach", "name": "mast.jpg", "media_type": "image/jpeg",
                                    "upload_id": "ab" * 16, "sha256": hashlib.sha256(photo).hexdigest()} | js)
            c = api.result("case_act", {"id": cid, "action": "close", "outcome": "penalised"} | js)
            assert (c["state"], c["holder"], c["outcome"], c["n_events"]) == ("closed", "JS", "penalised", 5)
            chunk = api.result("case_attachment", {"id": cid, "sha256": hashlib.sha256(photo).hexdigest()} | js)
            assert chunk["size_bytes"] == len(photo)
            assert api.result("case_verify", {"id": cid})["ok"] is True
    finally:
        srv.stop()
    srv = Server(loopback_config(tmp_path), engine=FakeEngine()).start()  # the cases outlive a restart
    try:
        with ApiClient(srv.endpoints["api"]) as api:
            c = api.result("case", {"id": cid})
            assert (c["state"], c["n_events"], c["attachments"][0]["size_bytes"]) == ("closed", 5, 76_800)
    finally:
        srv.stop()


def test_case_changes_are_published_to_the_provinces_that_see_the_case(tmp_path, ctx) -> None:

    from coordination.client import parse_publication
    from coordination.keys import KeyInfo
    from coordination.protocol import CaseMsg
    from coordination.security import topic_allowed

    team_js = KeyInfo("team-js", "team", "x" * 40, ("JS",))
    assert topic_allowed(team_js, b"case.JS") and not topic_allowed(team_js, b"case.ZJ")
    engine = FakeEngine()
    srv = Server(loopback_config(tmp_path), engine=engine).start()
    try:
        # connected before the first case event: their subscriptions reach the PUB first
        subs = {p: connected_sub(ctx, srv.endpoints["pub"], [f"case.{p}".encode()]) for p in ("ZJ", "JS", "AH")}
        s = SimSensor(ctx, srv.endpoints["sensors"])
        s.hello()
        engine.queued = [AlertEvent("opened", make_alert("A-pub", source=("ZJ",), affected=("JS",)))]
        s.send(s.emissions(1))
        s.wait_acked({1})
        cid = cases.case_id_for("A-pub")
        with ApiClient(srv.endpoints["api"]) as api:
            api.result("case_act", {"id": cid, "action": "note", "text": "JS team en route", "by": "js",
                                    "as_provinces": ["JS"]})

        def events(p: str) -> list[tuple[str, str]]:
            out = []
            while subs[p].poll(500):
                pub = parse_publication(subs[p].recv_multipart(), allowed=(CaseMsg.TYPE,))
                assert isinstance(pub.msg, CaseMsg) and pub.province == p
                out.append((pub.msg.event, pub.msg.case["id"]))
            return out

        assert events("ZJ") == [("opened", cid), ("note", cid)]
        assert events("JS") == [("opened", cid), ("note", cid)]
        assert events("AH") == []  # not involved: hears nothing of the case
    finally:
        srv.stop()
