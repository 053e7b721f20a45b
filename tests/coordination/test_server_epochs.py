"""Spool epochs: the server's idempotence key is (sensor, epoch, seq), so a lost spool loses nothing more."""

from __future__ import annotations

import logging
import time

from server_testkit import T0, loopback_config

from coordination.protocol import Emissions, Hello, format_utc
from coordination.server import Server
from coordination.store import MIGRATIONS, Store
from sdr.spool import Spool
from sdr.uplink import Uplink
from station_db.backend import migrate, open_database


def emissions() -> Emissions:
    return Emissions("js-01", 0, format_utc(T0), profile="pmr446")


def drain(srv: Server, spool: Spool, n: int) -> Uplink:
    for _ in range(n):
        spool.put(emissions())

    def hello(seq: int) -> Hello:
        return Hello("js-01", seq, format_utc(T0), province="JS", lat=31.3, lon=120.6, epoch=spool.epoch)

    up = Uplink(srv.endpoints["sensors"], "js-01", spool, hello, resend_timeout_s=0.5)
    deadline = time.monotonic() + 10.0
    while spool.depth and time.monotonic() < deadline:
        up.service(0.02)
    up.close()
    assert spool.depth == 0, "everything acked"
    return up


def test_a_lost_spool_starts_a_new_epoch_whose_data_is_stored(tmp_path, caplog):
    """Before: a sensor whose spool was lost restarted at seq 0, and the server acked everything up
    to the old maximum as duplicates, storing nothing (13 minutes of data in the report)."""
    with Server(loopback_config(tmp_path), build_engine=False) as srv:
        with Spool(tmp_path / "old.sqlite") as old:
            drain(srv, old, 30)
            old_epoch = old.epoch
        with Spool(tmp_path / "new.sqlite") as new, caplog.at_level(logging.WARNING, "coordination.registry"):
            assert new.epoch != old_epoch and new.next_seq == 0
            drain(srv, new, 20)  # seqs 0..19 again (the Hello takes the next one)
        assert srv.store.ledger.count_received("js-01", "emissions") == 50, "the new epoch's 20 are stored"
        assert srv.counters.duplicates == 0
        assert srv.counters.new_epochs == {"js-01": 1}
        assert srv.store.ledger.received_ranges("js-01") == [(0, 20)]  # the current epoch: 20 + Hello
        assert srv.store.ledger.received_ranges("js-01", old_epoch) == [(0, 30)]
    assert any("new spool epoch" in r.message and "js-01" in r.message for r in caplog.records)


def test_schema_migration_keeps_the_ledger_and_a_first_epoch_adopts_it(tmp_path):
    """A server database from before epochs (schema 5) keeps its ledger, occupancy and health rows;
    the sensor's first Hello with an epoch (same spool, upgraded software) adopts that ledger, so its
    resends are still recognised as duplicates."""
    db = tmp_path / "data" / "server.db"
    db.parent.mkdir(parents=True)
    old = open_database(db, schema="coordination")
    migrate(old, "server", MIGRATIONS[:5])  # the schema before epochs, with data written then
    old.begin()
    old.execute("INSERT INTO received_ranges VALUES ('js-01', 0, 30)")
    old.execute("INSERT INTO health VALUES ('js-01', 7, '2026-11-25T12:00:00Z', '{}')")
    old.execute("INSERT INTO occupancy VALUES ('js-01', 8, 'pmr446', 'a', 'b', 1, -100.0, 0.5, x'00', x'00')")
    old.execute("INSERT INTO sensors (sensor_id, province, lat, lon, height_m, antenna_factor_db_m, software, "
                "capabilities, first_seen, last_seen) VALUES ('js-01', 'JS', 31.3, 120.6, 10, 0, '', '[]', ?, ?)",
                (format_utc(T0), format_utc(T0)))
    old.commit()
    old.close()
    store = Store(db)  # migrates
    try:
        assert store.ledger.received_ranges("js-01", "") == [(0, 30)]
        assert store.db.fetchall("SELECT epoch, seq FROM health") == [("", 7)]
        assert store.db.fetchall("SELECT epoch, seq FROM occupancy") == [("", 8)]
    finally:
        store.close()
    with Server(loopback_config(tmp_path), build_engine=False) as srv, Spool(tmp_path / "s.sqlite") as sp:
        drain(srv, sp, 5)  # seqs 0..4: resends of what the old ledger holds
        assert srv.counters.duplicates == 5 and srv.counters.new_epochs == {}
        assert srv.store.ledger.received_ranges("js-01") == [(0, 30)]
