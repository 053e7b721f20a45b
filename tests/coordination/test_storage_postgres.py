"""The storage layer on a real PostgreSQL and on SQLite: same repository API, same answers.

Also: versioned migrations on both, and the guarantees several writing servers rely on (one alert
per cross-border emitter under concurrent claims, an acknowledgement that a late update cannot undo,
revisions that let the other centres follow every write).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from coordination.protocol import Emissions, Hello, Occupancy
from coordination.store import SCHEMA_VERSION, Store
from station_db.backend import SchemaError, open_database, to_pyformat
from station_db.exchange import read_stations
from station_db.repository import StationRepository
from station_db.rules import load_rules

SAMPLE = Path(__file__).resolve().parents[2] / "station_db" / "data" / "sample_stations.csv"


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "db.sqlite")
    return request.getfixturevalue("pg_url")


def test_placeholders_translate_outside_string_literals():
    assert to_pyformat("SELECT ? WHERE a LIKE '%?%' AND b = ?") == "SELECT %s WHERE a LIKE '%%?%%' AND b = %s"


def test_station_repository_answers_the_same_on_both_engines(target):
    stations = read_stations(SAMPLE)
    with StationRepository(target) as repo:
        by_prov: dict[str, list] = {}
        for s in stations:
            by_prov.setdefault(s.province, []).append(s)
        reports = [repo.import_stations(v, p, "sample.csv", "h") for p, v in sorted(by_prov.items())]
        assert sum(r.inserted for r in reports) == len(stations) == repo.count()
        assert [r.import_id for r in reports] == list(range(1, len(reports) + 1))
        again = repo.import_stations(by_prov["JS"], "JS", "sample.csv", "h")
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(by_prov["JS"]))
        hits = repo.stations_overlapping(150e6, 170e6)
        assert hits and all(s.tx_lo_hz <= 170e6 and s.tx_hi_hz >= 150e6 for s in hits)
        near = repo.query(near=(31.2, 121.4), radius_km=60.0)
        assert near and all(abs(s.lat - 31.2) < 0.6 for s in near)
        repo.upsert_sensor("js-01", "JS", 32.0, 120.0, public_key="k")
        repo.upsert_sensor("js-01", "JS", 32.1, 120.0)
        assert [(s.sensor_id, s.lat, s.public_key) for s in repo.sensors("JS")] == [("js-01", 32.1, None)]
        rules = load_rules(None)
        repo.set_rules(rules)
        assert repo.rules() == rules


def test_both_engines_agree_station_for_station(tmp_path, pg_url):
    stations = read_stations(SAMPLE)
    out = []
    for target in (str(tmp_path / "s.sqlite"), pg_url):
        with StationRepository(target) as repo:
            repo.import_all_provinces(stations, "sample.csv", "h")
            out.append((repo.all_stations(), repo.stations_overlapping(400e6, 470e6),
                        repo.query(freq_hz=160e6, bandwidth_hz=2e6, province="ZJ"),
                        [(i.province, i.inserted) for i in repo.imports()], repo.backend))
    assert out[0][:4] == out[1][:4]
    assert (out[0][4], out[1][4]) == ("sqlite", "postgresql")
    assert len(out[0][0]) == len(stations) and len(out[0][1]) > 10


def test_migrations_are_versioned_and_a_newer_database_is_refused(target):
    store = Store(target)
    store.close()
    db = open_database(target, schema="coordination")
    assert db.schema_version("server") == SCHEMA_VERSION == 8
    db.set_schema_version("server", SCHEMA_VERSION + 1)
    db.close()
    with pytest.raises(SchemaError, match="newer than this program"):
        Store(target)


def test_a_version_1_sqlite_server_file_is_migrated_in_place(tmp_path):
    import sqlite3

    from coordination.store.schema import SCHEMA_V1

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for st in SCHEMA_V1:
        conn.execute(st)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO alerts VALUES ('a1', 'open', ',JS,', 'major', 't0', 't1', '{\"id\": \"a1\"}')")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.alerts.alert_json("a1")["id"] == "a1"
    assert store.db.schema_version("server") == SCHEMA_VERSION == 8


def _hello(sid: str, prov: str = "JS") -> Hello:
    return Hello(sid, 0, "2026-01-01T00:00:00.000000Z", province=prov, lat=32.0, lon=120.0, height_m=10.0,
                 antenna_factor_db_m=20.0, software="t", capabilities=("evidence:sigmf",))


def test_server_store_round_trips_on_both_engines(target):
    store = Store(target, centre="JS")
    store.sensors.upsert(_hello("js-01"), "2026-01-01T00:00:00.000000Z")
    em = {"center_hz": 1.5e8, "peak_hz": 1.5e8, "peak_dbm": -60.0, "power_dbm": -62.0, "bandwidth_xdb_hz": 1e4,
          "obw_hz": 1.1e4, "snr_db": 30.0, "f_lo_hz": 1.4999e8, "f_hi_hz": 1.5001e8}
    store.summaries.insert_emissions(Emissions("js-01", 5, "2026-01-01T00:00:01.000000Z", profile="vhf", spectrum_seq=4,
                                     noise_floor_dbm=-100.0, antenna_factor_db_m=20.0, emissions=(em,)))
    centers = np.linspace(1e8, 1.1e8, 8)
    occ = Occupancy("js-01", 6, "2026-01-01T00:00:02.000000Z", profile="vhf", t_start_utc="2026-01-01T00:00:00Z",
                    t_end_utc="2026-01-01T00:00:02Z", revisits=3, threshold_dbm=-90.0, fbo=0.25,
                    channel_centers_hz=centers, fco=np.full(8, 0.5, np.float32))
    store.summaries.insert_occupancy(occ)
    store.summaries.insert_occupancy(occ)  # idempotent
    store.ledger.mark_received([("js-01", 5, "emissions", ""), ("js-01", 6, "occupancy", ""),
                                ("js-01", 3_000_000_000_123, "heartbeat", "")])
    store.sensors.touch([("js-01", 3_000_000_000_123, "vhf", "2026-01-01T00:00:03.000000Z")])
    store.sensors.set_health("js-01", 7, "2026-01-01T00:00:03.000000Z", {"temp_c": 41.5})
    store.counters.save([("stored", "emissions", 1), ("duplicates", "", 0)])
    store.commit()
    store.close()
    store = Store(target, centre="JS")
    assert store.ledger.known_seqs("js-01", [5, 6, 7, 3_000_000_000_123]) == {5, 6, 3_000_000_000_123}
    [rec] = store.sensors.records()
    assert (rec.last_seq, rec.last_profile, rec.health, rec.capabilities) == (3_000_000_000_123, "vhf",
                                                                             {"temp_c": 41.5}, ("evidence:sigmf",))
    [row] = store.summaries.emissions("js-01")
    assert (row["seq"], row["spectrum_seq"], row["obw_hz"]) == (5, 4, 1.1e4)
    got_centers, rows = store.summaries.occupancy("js-01", "vhf")
    assert np.array_equal(got_centers, centers) and rows[0]["fco"] == [0.5] * 8 and len(rows) == 1
    assert sorted(store.counters.load()) == [("duplicates", "", 0), ("stored", "emissions", 1)]
    assert Store(target, centre="ZJ").counters.load() == []  # counters are per centre
    assert store.sensors.records(["ZJ"]) == []


def _alert(aid: str, state: str = "open", **kw) -> dict:
    doc = {"id": aid, "event": "opened", "state": state, "band": "VHF-land", "channel_hz": 151.0125e6,
           "provinces_source": ["JS"], "provinces_affected": ["ZJ"], "severity": "major",
           "first_seen": "2026-01-01T00:00:00.000000Z", "last_seen": "2026-01-01T00:00:05.000000Z",
           "acknowledged_by": None, "resolved_by": None, "note": None}
    doc.update(kw)
    return doc


def test_concurrent_claims_from_four_centres_leave_one_alert(pg_url):
    """Four centres (own connections) claim the same cross-border emitter at the same moment."""
    for _ in range(2):
        Store(pg_url).close()  # migrated once; concurrent openers below find it done
    centres = ["AH", "JS", "SH", "ZJ"]
    stores = {c: Store(pg_url, centre=c) for c in centres}
    barrier = threading.Barrier(len(centres))
    won: dict[str, str] = {}

    def claim(c: str) -> None:
        barrier.wait()
        won[c] = stores[c].alerts.claim_alert(_alert(f"{c}-1"), "JS,ZJ")
        stores[c].commit()

    threads = [threading.Thread(target=claim, args=(c,)) for c in centres]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(set(won.values())) == 1
    canonical = next(iter(won.values()))
    listed = stores["AH"].alerts.list_alert_json(["open", "acknowledged"])
    assert [d["id"] for d in listed] == [canonical]
    assert sorted(c for c in centres if stores[c].alerts.alert_link(f"{c}-1") == canonical) == sorted(
        c for c in centres if f"{c}-1" != canonical)
    # a different channel or cluster key is a different emitter
    assert stores["JS"].alerts.claim_alert(_alert("JS-2", channel_hz=151.025e6), "JS,ZJ") == "JS-2"
    assert stores["JS"].alerts.claim_alert(_alert("JS-3"), "AH,JS") == "JS-3"
    stores["JS"].commit()
    for s in stores.values():
        s.close()


def test_acknowledgement_survives_a_late_update_and_is_queued_for_the_owner(target):
    owner, other = Store(target, centre="JS"), Store(target, centre="ZJ")
    owner.alerts.claim_alert(_alert("JS-9"), "JS,ZJ")
    owner.commit()
    rev0 = other.alerts.alert_revision()
    doc = other.alerts.apply_alert_action("JS-9", "acknowledge", "zj-duty", "seen", "2026-01-01T00:01:00.000000Z")
    other.commit()
    assert (doc["state"], doc["acknowledged_by"]) == ("acknowledged", "zj-duty")
    owner.alerts.save_alert_json(_alert("JS-9", event="updated", last_seen="2026-01-01T00:02:00.000000Z"))  # stale view
    owner.commit()
    now = other.alerts.alert_json("JS-9")
    assert (now["state"], now["acknowledged_by"], now["last_seen"]) == ("acknowledged", "zj-duty",
                                                                         "2026-01-01T00:02:00.000000Z")
    assert [(a[1], a[2], a[3]) for a in owner.alerts.pending_actions()] == [("JS-9", "acknowledge", "zj-duty")]
    assert other.alerts.pending_actions() == []
    owner.alerts.action_done(owner.alerts.pending_actions()[0][0])
    owner.commit()
    assert owner.alerts.pending_actions() == []
    last, docs = other.alerts.alerts_since(rev0, "ZJ")
    assert [d["id"] for d in docs] == ["JS-9"] and last == other.alerts.alert_revision()
    assert other.alerts.alerts_since(last, "ZJ") == (last, [])
    assert [d["id"] for d in owner.alerts.list_alert_json(own_only=True)] == ["JS-9"]
    assert other.alerts.list_alert_json(own_only=True) == []


def test_a_lost_postgresql_connection_fails_one_transaction_then_reconnects(pg_url):
    import psycopg

    store = Store(pg_url, centre="JS")
    store.ledger.mark_received([("js-01", 1, "emissions", "")])
    store.commit()
    with psycopg.connect(pg_url, autocommit=True) as admin:  # the database drops our session
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE pid <> pg_backend_pid() AND datname = current_database()")
    with pytest.raises(psycopg.OperationalError):  # the transaction in flight fails: nothing of it is acked
        store.ledger.mark_received([("js-01", 2, "emissions", "")])
        store.commit()
    store.rollback()
    store.ledger.mark_received([("js-01", 3, "emissions", "")])  # the next one reconnects (same schema)
    store.commit()
    assert store.db.reconnects == 1
    assert store.ledger.received_ranges("js-01") == [(1, 1), (3, 3)]
    assert Store(pg_url).ledger.count_received("js-01") == 2
