"""Coordination request life cycle: agree, object, deadline (reminder, then silence), withdraw; every step
in the audit log; the outcome in the station record; two centres answering at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from coordreq_testkit import T0, fm_rules, fm_station, neighbours, pieces

from coordination.coordination_requests import (
    CoordinationDesk,
    InMemoryRequestRepository,
    RequestError,
    RequestPolicy,
    RequestRepository,
)
from coordination.store import MIGRATIONS, SCHEMA_VERSION, RequestTables, Store, UnitOfWork
from coordination.store.schema import legacy_version
from station_db.backend import Migration, migrate, open_database
from station_db.models import Coordination
from station_db.repository import StationRepository

# 20 dBW: ~47.8 dBuV/m at the JS border (20 km), ~32 at ZJ (60 km); limit 40 -> JS asked, ZJ not.
LIMIT = 40.0


@pytest.fixture(params=["memory", "sqlite"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RequestRepository]:
    if request.param == "memory":
        yield InMemoryRequestRepository()
    else:
        store = Store(tmp_path / "store.sqlite")
        yield store.requests
        store.close()


@pytest.fixture
def stations(tmp_path: Path) -> Iterator[StationRepository]:
    with StationRepository(tmp_path / "stations.sqlite") as s:
        yield s


def desk_for(repo: RequestRepository, stations: StationRepository, events: list | None = None,
             **kw: object) -> CoordinationDesk:
    notify = None if events is None else (lambda topic, doc: events.append((topic, doc["event"])))
    return CoordinationDesk(repo, stations, fm_rules(LIMIT), border_pieces=pieces, neighbours_of=neighbours,
                            notify=notify, **kw)  # type: ignore[arg-type]


def two_sided(repo: RequestRepository, stations: StationRepository, events: list | None = None,
              **kw: object) -> CoordinationDesk:
    """Both borders 20 km away: JS and ZJ are asked."""
    return CoordinationDesk(repo, stations, fm_rules(LIMIT), border_pieces=lambda a, b, s: pieces(a, "JS", s),
                            neighbours_of=neighbours, notify=None if events is None else
                            (lambda topic, doc: events.append((topic, doc["event"]))), **kw)  # type: ignore[arg-type]


def test_submit_asks_only_the_neighbours_over_the_trigger(repo: RequestRepository, stations: StationRepository) -> None:
    events: list = []
    desk = desk_for(repo, stations, events)
    req = desk.submit(fm_station(erp_dbw=20.0), by="sh-planner", now=T0)
    assert req.asked == ("JS",) and req.state == "open"
    assert req.deadline == T0 + timedelta(days=30) and req.final_deadline == T0 + timedelta(days=45)
    js = req.computation.profile("JS")
    assert js is not None and js.worst_field_dbuv_m == pytest.approx(47.82, abs=0.01)
    assert stations.coordination_of("SH", "SH-FM-9001") == (
        Coordination("JS", "pending", reference=req.id), Coordination("ZJ", "not_required", reference=req.id))
    assert ("coord.JS", "asked") in events and ("coord.SH", "submitted") in events
    (entry,) = desk.audit(req.id)
    assert (entry.action, entry.actor, entry.t) == ("submitted", "sh-planner", T0)
    assert entry.detail["inputs"]["rules_version"] == "test-1" and entry.detail["asked"] == ["JS"]
    assert desk.find(waiting_for="JS") == [req] and desk.find(waiting_for="ZJ") == []


def test_below_every_trigger_concludes_at_once(repo: RequestRepository, stations: StationRepository) -> None:
    req = desk_for(repo, stations).submit(fm_station(erp_dbw=0.0), by="sh", now=T0)
    assert req.asked == () and req.state == "concluded"
    assert [c.status for c in stations.coordination_of("SH", "SH-FM-9001")] == ["not_required", "not_required"]


def test_agree_with_a_lower_field_is_recorded_with_the_station(repo: RequestRepository,
                                                               stations: StationRepository) -> None:
    events: list = []
    desk = desk_for(repo, stations, events)
    req = desk.submit(fm_station(erp_dbw=20.0), by="sh", now=T0)
    with pytest.raises(RequestError, match=r"at most the 47\.8 dBuV/m"):
        desk.respond(req.id, "JS", "agree", by="js-officer", now=T0 + timedelta(days=3), agreed_field_dbuv_m=50.0)
    done = desk.respond(req.id, "JS", "agree", by="js-officer", now=T0 + timedelta(days=3), agreed_field_dbuv_m=45.0)
    assert done.state == "concluded" and done.closed_at == T0 + timedelta(days=3)
    js = stations.coordination_of("SH", "SH-FM-9001")[0]
    assert js == Coordination("JS", "agreed", 45.0, req.id, (T0 + timedelta(days=3)).date(), fm_station().valid_to)
    assert [e.action for e in desk.audit(req.id)] == ["submitted", "agreed", "concluded"]
    assert ("coord.JS", "concluded") in events and ("coord.SH", "answered") in events
    with pytest.raises(RequestError, match="concluded; it takes no more answers"):
        desk.respond(req.id, "JS", "object", by="js", now=T0 + timedelta(days=4), reason="changed our mind")


def test_agree_without_a_value_records_the_asked_field_rounded_up(repo: RequestRepository,
                                                                  stations: StationRepository) -> None:
    desk = desk_for(repo, stations)
    req = desk.submit(fm_station(erp_dbw=20.0), by="sh", now=T0)
    desk.respond(req.id, "JS", "agree", by="js", now=T0 + timedelta(days=1))
    assert stations.coordination_of("SH", "SH-FM-9001")[0].agreed_field_dbuv_m == 47.9  # 47.82 rounded up


def test_object_needs_a_reason_and_only_asked_provinces_answer(repo: RequestRepository,
                                                               stations: StationRepository) -> None:
    desk = desk_for(repo, stations)
    req = desk.submit(fm_station(erp_dbw=20.0), by="sh", now=T0)
    with pytest.raises(RequestError, match="needs a reason"):
        desk.respond(req.id, "JS", "object", by="js", now=T0)
    with pytest.raises(RequestError, match="ZJ was not asked"):
        desk.respond(req.id, "ZJ", "agree", by="zj", now=T0)
    done = desk.respond(req.id, "JS", "object", by="js", now=T0 + timedelta(days=2), reason="protects JS-FM-0003")
    assert done.answer_of("JS").reason == "protects JS-FM-0003"  # type: ignore[union-attr]
    assert stations.coordination_of("SH", "SH-FM-9001")[0] == Coordination("JS", "objected", reference=req.id)


def test_deadline_sends_a_reminder_then_silence_counts(repo: RequestRepository, stations: StationRepository) -> None:
    events: list = []
    desk = desk_for(repo, stations, events)
    req = desk.submit(fm_station(erp_dbw=20.0), by="sh", now=T0)
    assert desk.tick(T0 + timedelta(days=29)) == []
    (reminded,) = desk.tick(T0 + timedelta(days=30))
    assert reminded.answer_of("JS").reminded_at == T0 + timedelta(days=30)  # type: ignore[union-attr]
    assert ("coord.JS", "reminder") in events and reminded.state == "open"
    assert desk.tick(T0 + timedelta(days=31)) == []  # one reminder only
    (lapsed,) = desk.tick(T0 + timedelta(days=45))
    assert lapsed.state == "concluded" and lapsed.answer_of("JS").state == "lapsed"  # type: ignore[union-attr]
    js = stations.coordination_of("SH", "SH-FM-9001")[0]
    assert (js.status, js.agreed_field_dbuv_m) == ("agreed", 47.9)  # HCM: silence is consent
    assert [e.action for e in desk.audit(req.id)] == ["submitted", "reminded", "lapsed", "concluded"]


def test_silence_can_count_as_objection_with_shorter_deadlines(repo: RequestRepository,
                                                               stations: StationRepository) -> None:
    desk = desk_for(repo, stations, policy=RequestPolicy(answer_days=10, reminder_days=5, silence_means="objected"))
    req = desk.submit(fm_station(erp_dbw=20.0), by="sh", now=T0)
    assert req.final_deadline == T0 + timedelta(days=15)
    desk.tick(T0 + timedelta(days=15))
    assert stations.coordination_of("SH", "SH-FM-9001")[0].status == "objected"


def test_withdraw_restores_the_earlier_coordination(repo: RequestRepository, stations: StationRepository) -> None:
    old = Coordination("JS", "agreed", 44.0, "SH-JS-2020-001", fm_station().valid_from, fm_station().valid_to)
    stations.set_coordination("SH", "SH-FM-9001", [old])
    desk = desk_for(repo, stations)
    req = desk.submit(fm_station(erp_dbw=20.0), by="sh", now=T0, kind="modified")
    assert stations.coordination_of("SH", "SH-FM-9001")[0].status == "pending"
    with pytest.raises(RequestError, match="only SH, the owner"):
        desk.withdraw(req.id, "JS", by="js", now=T0)
    w = desk.withdraw(req.id, "SH", by="sh", now=T0 + timedelta(days=1), reason="site changed")
    assert w.state == "withdrawn"
    assert stations.coordination_of("SH", "SH-FM-9001") == (old,)
    with pytest.raises(RequestError, match="withdrawn; it takes no more answers"):
        desk.respond(req.id, "JS", "agree", by="js", now=T0 + timedelta(days=2))
    assert [e.action for e in desk.audit(req.id)] == ["submitted", "withdrawn"]


def test_a_centre_answers_only_for_its_own_province(repo: RequestRepository, stations: StationRepository) -> None:
    req = desk_for(repo, stations).submit(fm_station(erp_dbw=20.0), by="sh", now=T0)
    zj_centre = desk_for(repo, stations, answers_for=("ZJ",))
    with pytest.raises(RequestError, match="answers only for ZJ, not JS"):
        zj_centre.respond(req.id, "JS", "agree", by="zj", now=T0)


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "shared.sqlite")
    return str(request.getfixturevalue("pg_url"))


def test_two_centres_answer_at_the_same_moment(tmp_path: Path, shared_target: str) -> None:
    """JS's and ZJ's centres, each with its own connection to the shared store, answer concurrently
    many times over: both answers always stand and the request is concluded exactly once."""
    store = shared_target
    with StationRepository(tmp_path / "stations.sqlite") as stations:
        owner = Store(store)
        desk = two_sided(owner.requests, stations)
        ids = [desk.submit(fm_station(erp_dbw=20.0, station_id=f"SH-FM-9{i:03d}"), by="sh", now=T0).id
               for i in range(12)]
        assert all(desk.get(i).asked == ("JS", "ZJ") for i in ids)
        centres = {p: Store(store) for p in ("JS", "ZJ")}
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def answer(province: str) -> None:
            d = two_sided(centres[province].requests, stations, answers_for=(province,))
            try:
                for rid in ids:
                    barrier.wait()
                    d.respond(rid, province, "agree", by=f"{province.lower()}-officer", now=T0 + timedelta(hours=1))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=answer, args=(p,)) for p in centres]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        for rid in ids:
            req = desk.get(rid)
            assert req.state == "concluded", rid
            assert {a.province: a.state for a in req.answers} == {"JS": "agreed", "ZJ": "agreed"}
            assert [e.action for e in desk.audit(rid)].count("concluded") == 1
        for r in (owner, *centres.values()):
            r.close()


def test_two_centres_ticking_notify_a_reminder_once(tmp_path: Path) -> None:
    """Every centre ages the shared requests; the one that finds the work already done says nothing."""
    store = tmp_path / "shared.sqlite"
    events: list = []
    with StationRepository(tmp_path / "stations.sqlite") as stations:
        repos = [Store(store) for _ in range(2)]
        js, zj = (desk_for(r.requests, stations, events) for r in repos)
        req = js.submit(fm_station(erp_dbw=20.0), by="sh", now=T0)
        late = T0 + timedelta(days=30)
        stale = zj.find(state="open")  # ZJ's centre read the open requests just before JS's centre aged them
        assert [r.id for r in js.tick(late)] == [req.id]
        zj.find = lambda **kw: stale  # type: ignore[method-assign]
        assert zj.tick(late) == []  # nothing left to do when its change runs: JS's centre reminded already
        assert events.count(("coord.JS", "reminder")) == 1
        assert [e.action for e in js.audit(req.id)] == ["submitted", "reminded"]
        for r in repos:
            r.close()


def test_a_store_with_the_former_separate_request_tables_keeps_its_requests(tmp_path: Path,
                                                                            shared_target: str) -> None:
    """A database from before the request tables were the store's migration 7 (server schema 6 plus
    their own ``coord_requests`` component) opens as a current store: its requests read and answer."""
    former = Migration((
        """CREATE TABLE coord_requests (
        id TEXT PRIMARY KEY, province TEXT NOT NULL, station_id TEXT NOT NULL, state TEXT NOT NULL,
        submitted_at TEXT NOT NULL, rev INTEGER NOT NULL DEFAULT 0, json TEXT NOT NULL)""",
        "CREATE INDEX coord_requests_by_state ON coord_requests (state, submitted_at)",
        """CREATE TABLE coord_audit (
        entry_id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, t_utc TEXT NOT NULL, actor TEXT NOT NULL,
        province TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)""",
        "CREATE INDEX coord_audit_by_request ON coord_audit (request_id, entry_id)",
    ), "coordination requests and their audit log")
    db = open_database(shared_target, schema="coordination")
    migrate(db, "server", MIGRATIONS[:6], legacy_version=legacy_version)
    migrate(db, "coord_requests", (former,))
    with StationRepository(tmp_path / "stations.sqlite") as stations:
        old = two_sided(RequestTables(UnitOfWork(db)), stations).submit(fm_station(erp_dbw=20.0), by="sh", now=T0)
        db.close()
        store = Store(shared_target)
        assert store.db.schema_version("server") == SCHEMA_VERSION == 8
        desk = two_sided(store.requests, stations)
        assert desk.get(old.id) == old
        desk.respond(old.id, "JS", "agree", by="js", now=T0 + timedelta(days=1))
        done = desk.respond(old.id, "ZJ", "object", by="zj", now=T0 + timedelta(days=2), reason="protects ZJ-FM-0001")
        assert done.state == "concluded"
        actions = [e.action for e in desk.audit(old.id)]
        assert actions[0] == "submitted" and actions.count("concluded") == 1
        store.close()
