"""What the network learnt survives a server restart: a real server learns, restarts, and judges with it.

A real server (ZeroMQ on loopback, its own rules engine, SQLite in a tmp dir) and four simulated sensors
in Anhui. In its first life it judges five licensed PMR stations (4 levels each, scattered 4 dB about
P.1546): the level spread it learns (15 degrees of freedom) and the e.r.p. fits' offsets are saved in
its store. Restarted on the same data, it starts with them, and judges a station boosted by 10 dB with
the learnt spread: 6.0 dB (the tolerance) is the bar, so it is a violation; a server that had forgotten
(the 3-10 dB prior, one more life of learning away) would need 10.5 dB and only note a possible excess.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import zmq
from engine_testkit import AH_DEEP_SENSORS, NOISE_FLOOR_DBM, PMR_FREQ_HZ, make_repo, station, true_field_dbuv_m
from server_testkit import SimSensor, loopback_config, wait_for

from coordination.alerts import InMemoryAlertStore
from coordination.engine import RulesEngine
from coordination.protocol import Emissions, Hello, format_utc
from coordination.sensors import SensorInfo
from coordination.server import Server
from coordination.spread import restore_learnt
from coordination.store import MIGRATIONS, SCHEMA_VERSION, Store
from coordination.store.schema import legacy_version
from station_db.backend import migrate, open_database
from station_db.models import Station
from station_db.rules import load_rules

SENSORS = (*AH_DEEP_SENSORS, SensorInfo("ah-feixi", "AH", 31.70, 117.15, 15.0, 20.0))
RING = [(31.85 + 0.04 * np.cos(a), 117.32 + 0.05 * np.sin(a)) for a in np.linspace(0.0, 2.0 * np.pi, 6)[:5]]
TEACHERS = [station(f"AH-PMR-{k:04d}", "AH", lat, lon, tx_freq_hz=PMR_FREQ_HZ + 25e3 * k)
            for k, (lat, lon) in enumerate(RING)]
BOOSTED = station("AH-PMR-0900", "AH", 31.83, 117.36, tx_freq_hz=PMR_FREQ_HZ + 25e3 * 9)


def levels(st: Station, rng: np.random.Generator, boost_db: float = 0.0) -> dict[str, dict[str, float]]:
    """Each sensor's emission record of ``st`` (P.1546 50 % plus 4 dB of scatter)."""
    out = {}
    for s in SENSORS:
        e = true_field_dbuv_m(s, st.lat, st.lon, st.erp_dbw + boost_db, st.tx_freq_hz, 35.0, st.antenna_height_m)
        p = e + float(rng.normal(0.0, 4.0)) - 107.0 - s.antenna_factor_db_m
        f = st.tx_freq_hz
        out[s.sensor_id] = {"center_hz": f, "peak_hz": f, "peak_dbm": p + 3.0, "power_dbm": p,
                            "bandwidth_xdb_hz": 8e3, "obw_hz": 10e3, "snr_db": p - NOISE_FLOOR_DBM,
                            "f_lo_hz": f - 5e3, "f_hi_hz": f + 5e3}
    return out


def sweeps(rng: np.random.Generator, stations: Sequence[Station], boost_db: float = 0.0
           ) -> list[dict[str, dict[str, float]]]:
    """Two sweeps of every station: [{sensor_id: emission}], one per (station, sweep)."""
    return [levels(st, rng, boost_db) for st in stations for _ in range(2)]


def stored_doc(data: Path) -> dict | None:
    with sqlite3.connect(data / "server.db") as con:
        row = con.execute("SELECT doc FROM learnt_state").fetchone()
    return None if row is None else json.loads(row[0])


def stored_verdicts(data: Path) -> list[list[str]]:
    with sqlite3.connect(data / "server.db") as con:
        return [json.loads(j)["verdicts"] for (j,) in con.execute("SELECT json FROM alerts")]


def stored_dof(data: Path) -> int:
    doc = stored_doc(data)
    return 0 if doc is None else sum(len(v) - 1 for _, v in doc["spread"])


class Network:
    """The four sensors of one server life: Hello, then Emissions messages (real ZeroMQ)."""

    def __init__(self, ctx: zmq.Context, srv: Server, epoch: str) -> None:
        self.sims = {s.sensor_id: SimSensor(ctx, srv.endpoints["sensors"], sensor_id=s.sensor_id) for s in SENSORS}
        self.seq = 0
        for s in SENSORS:
            sim = self.sims[s.sensor_id]
            sim.send(Hello(s.sensor_id, 0, format_utc(datetime.now(UTC)), province=s.province, lat=s.lat, lon=s.lon,
                           height_m=s.height_m, antenna_factor_db_m=s.antenna_factor_db_m, epoch=epoch))
            assert sim.wait_acked({0}) == {0}

    def send(self, sweep: dict[str, dict[str, float]]) -> None:
        self.seq += 1
        t = format_utc(datetime.now(UTC))
        for s in SENSORS:
            self.sims[s.sensor_id].send(Emissions(s.sensor_id, self.seq, t, profile="pmr_400",
                                                  noise_floor_dbm=NOISE_FLOOR_DBM,
                                                  antenna_factor_db_m=s.antenna_factor_db_m,
                                                  emissions=(sweep[s.sensor_id],)))
        for s in SENSORS:
            assert self.sims[s.sensor_id].wait_acked({self.seq}) == {self.seq}

    def close(self) -> None:
        for sim in self.sims.values():
            sim.close()


def test_a_restarted_server_judges_with_what_it_learnt_before(tmp_path, ctx) -> None:
    db = tmp_path / "stations.db"
    make_repo(db, [*TEACHERS, BOOSTED]).close()
    # a short grouping window: both sweeps of a station are sent at once, its judgement need not wait 2 s
    cfg = loopback_config(tmp_path, stations=db, profiles=(), learnt_save_s=0.2, engine={"group_window_s": 0.3})
    srv = Server(cfg).start()
    try:
        net = Network(ctx, srv, "a1")
        for sweep in sweeps(np.random.default_rng(11), TEACHERS):
            net.send(sweep)
        # saved by the loop (at most every learnt_save_s) as the judgements come in, not only at the stop
        wait_for(lambda: stored_dof(cfg.data_dir) >= 15, timeout_s=30.0)
        net.close()
    finally:
        srv.stop()
    assert isinstance(srv.engine, RulesEngine)
    first = srv.engine.spread.to_doc(), srv.engine.erp_bias.to_doc()
    assert srv.engine.spread.dof == 15 and srv.engine.erp_bias.n_stations == 5
    prior = srv.engine.spread.prior()
    assert prior is not None and 2.0 <= prior.sigma_db < 5.5  # 4 dB of scatter, two sweeps' median per sensor
    assert srv.learnt is not None and srv.learnt.counts["saved"] >= 1 and srv.learnt.counts["restored"] == 0

    srv2 = Server(cfg).start()
    try:
        assert isinstance(srv2.engine, RulesEngine)
        assert (srv2.engine.spread.to_doc(), srv2.engine.erp_bias.to_doc()) == first
        assert srv2.engine.spread.prior() == prior
        assert srv2.counters_snapshot()["learnt_state"] == {"restored": 1}
        boosted = sweeps(np.random.default_rng(5), [BOOSTED], boost_db=10.0)
        net = Network(ctx, srv2, "a2")  # the sensors' seqs count from 0 again in a new spool epoch
        for sweep in boosted:
            net.send(sweep)
        wait_for(lambda: stored_verdicts(cfg.data_dir), timeout_s=30.0)
        net.close()
    finally:
        srv2.stop()
    [alert] = srv2.engine.open_alerts()
    assert alert.verdicts == ("licence_violation",) and alert.matched_station == "AH/AH-PMR-0900"
    [power] = [f for f in alert.findings if f.startswith("measured field ")]
    assert "10.0 dB above" in power and "tolerance 6.0 dB at z = 3.09" in power

    # The same levels judged by an engine that had not learnt (a server that forgot at its restart), and by
    # one given the stored document: only the first falls short of the accusation level.
    for restored in (False, True):
        engine = RulesEngine(make_repo(tmp_path / f"st{restored}.db", [BOOSTED]), load_rules(), InMemoryAlertStore())
        if restored:
            restore_learnt({"version": 1, "spread": first[0], "erp_bias": first[1]}, engine.spread,
                           engine.erp_bias, "test")
        t0 = datetime(2026, 11, 25, 8, tzinfo=UTC)
        events = []
        for k, sweep in enumerate(boosted):
            for s in SENSORS:
                events += engine.observe(s, t0 + timedelta(seconds=5 * k), [sweep[s.sensor_id]], NOISE_FLOOR_DBM,
                                         s.antenna_factor_db_m)
        events += engine.tick(t0 + timedelta(seconds=15))
        if restored:
            assert [e.alert.verdicts for e in events if e.event == "opened"] == [("licence_violation",)]
        else:
            assert events == []
            [note] = engine.channel_status()[0]["licence_notes"]
            assert "reads +10.0 dB" in note and "10.5 dB is needed to establish it at z = 3.09" in note


def test_a_bad_stored_document_is_named_counted_and_learnt_afresh(tmp_path, caplog) -> None:
    db = tmp_path / "stations.db"
    make_repo(db, TEACHERS).close()
    cfg = loopback_config(tmp_path, stations=db, profiles=(), learnt_save_s=0.2)
    store = Store(cfg.data_dir / "server.db") if cfg.data_dir.mkdir(parents=True) is None else None
    assert store is not None
    store.learnt.save(json.dumps({"version": 1, "spread": [["AH-PMR-0001", {"a": "NaN?", "b": 1.0}]],
                                  "erp_bias": []}), "2026-11-25T08:00:00.000000Z")
    store.commit()
    store.close()
    with caplog.at_level(logging.ERROR, logger="coordination.learnt_keeper"):
        srv = Server(cfg).start()
    try:
        assert srv.counters_snapshot()["learnt_state"] == {"refused": 1}
        assert isinstance(srv.engine, RulesEngine) and srv.engine.spread.dof == 0
        [msg] = [r.getMessage() for r in caplog.records]
        assert "learnt_state (saved 2026-11-25T08:00:00.000000Z).spread[0].a: expected a finite number" in msg
        assert "server.db" in msg and "learning afresh" in msg
    finally:
        srv.stop()
    assert stored_doc(cfg.data_dir) is not None  # untouched until there is something learnt to write


def test_a_version_7_server_database_gains_the_learnt_state_table(tmp_path) -> None:
    path = tmp_path / "server.db"
    db = open_database(path, schema="coordination")
    migrate(db, "server", MIGRATIONS[:7], legacy_version=legacy_version)
    db.execute("INSERT INTO counters VALUES ('stored', 'emissions', 41)")
    db.close()
    store = Store(path, centre="JS")
    try:
        assert store.db.schema_version("server") == SCHEMA_VERSION == 8
        assert store.counters.load() == [] and store.learnt.load() is None
        store.learnt.save('{"version": 1}', "2026-11-25T08:00:00.000000Z")
        store.commit()
        assert store.learnt.load() == ('{"version": 1}', "2026-11-25T08:00:00.000000Z")
    finally:
        store.close()
    other = Store(path)  # one server (no centre) and each federated centre keep their own row
    try:
        assert other.learnt.load() is None
        assert ("stored", "emissions", 41) in other.counters.load()
    finally:
        other.close()


@pytest.mark.parametrize("n_stations", [500])
def test_saving_a_full_memory_is_one_small_row(tmp_path, n_stations) -> None:
    from coordination.learnt_keeper import LearntKeeper
    from coordination.spread import ErpBias, NetworkSpread

    spread, bias = NetworkSpread(), ErpBias()
    rng = np.random.default_rng(2)
    for k in range(n_stations):
        spread.add(f"ZJ-PMR-{k:04d}", {f"ZJ-SENSOR-{j:02d}": float(v) for j, v in enumerate(rng.normal(0, 6, 6))})
        bias.add(f"ZJ-PMR-{k:04d}", float(rng.normal(-2.0, 3.0)))
    store = Store(tmp_path / "server.db")
    try:
        keeper = LearntKeeper(spread, bias, store.learnt, interval_s=30.0)
        assert keeper.due(0.0) and keeper.save("2026-11-25T08:00:00.000000Z", 0.0)
        store.commit()
        assert not keeper.due(1.0) and not keeper.save("2026-11-25T08:00:01.000000Z", 1.0)  # nothing changed
        bias.add("ZJ-PMR-0001", 0.0)
        assert not keeper.due(29.0) and keeper.due(30.0)  # changed: written again once the interval has passed
        text, _ = store.learnt.load()  # type: ignore[misc]
        assert len(text) < 200_000  # about 130 kB: 500 stations of 6 levels
        again_spread, again_bias = NetworkSpread(), ErpBias()
        assert LearntKeeper(again_spread, again_bias, store.learnt, interval_s=30.0).restore()
        assert again_spread.sigma_db() == pytest.approx(spread.sigma_db(), abs=1e-12)
    finally:
        store.close()


def test_centres_sharing_a_postgresql_database_keep_their_own_learnt_state(pg_url) -> None:
    js, zj = Store(pg_url, centre="JS"), Store(pg_url, centre="ZJ")
    try:
        js.learnt.save('{"version": 1, "who": "JS"}', "2026-11-25T08:00:00.000000Z")
        js.commit()
        assert zj.learnt.load() is None
        zj.learnt.save('{"version": 1, "who": "ZJ"}', "2026-11-25T08:00:01.000000Z")
        zj.commit()
        js.learnt.save('{"version": 1, "who": "JS again"}', "2026-11-25T08:00:02.000000Z")  # replaces its row
        js.commit()
        assert js.learnt.load() == ('{"version": 1, "who": "JS again"}', "2026-11-25T08:00:02.000000Z")
        assert zj.learnt.load() == ('{"version": 1, "who": "ZJ"}', "2026-11-25T08:00:01.000000Z")
    finally:
        js.close()
        zj.close()
