"""The report's coordination section: requests, outcomes and time to answer from the server's store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from coordreq_testkit import T0, fm_rules, fm_station, pieces

from coordination.coordination_requests import CoordinationDesk
from coordination.report import Period, ReportOptions, build_report, render_html
from coordination.store import Store
from station_db.repository import StationRepository

PERIOD = "2026-03-01..2026-03-31"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("coord-report")
    data = root / "data"
    store = Store(data / "server.db")
    with StationRepository(root / "stations.db") as stations:
        # both synthetic borders 20 km away: JS and ZJ are asked for a 20 dBW station (limit 40)
        desk = CoordinationDesk(store.requests, stations, fm_rules(40.0),
                                border_pieces=lambda a, b, s: pieces(a, "JS", s), neighbours_of=lambda p: ("JS", "ZJ"))
        a = desk.submit(fm_station(erp_dbw=20.0, station_id="SH-FM-9001"), by="sh", now=T0)
        desk.respond(a.id, "JS", "agree", by="js", now=T0 + timedelta(days=2))
        desk.respond(a.id, "ZJ", "object", by="zj", now=T0 + timedelta(days=4), reason="protects ZJ-FM-0001")
        b = desk.submit(fm_station(erp_dbw=20.0, station_id="SH-FM-9002"), by="sh", now=T0 + timedelta(days=1))
        desk.respond(b.id, "JS", "agree", by="js", now=T0 + timedelta(days=7))
        desk.tick(T0 + timedelta(days=46))  # ZJ silent: reminder at 30 days, lapsed after 45
        c = desk.submit(fm_station(erp_dbw=20.0, station_id="SH-FM-9003"), by="sh", now=T0 + timedelta(days=3))
        desk.withdraw(c.id, "SH", by="sh", now=T0 + timedelta(days=5))
    store.close()
    return data


def test_requests_outcomes_and_time_to_answer(data_dir: Path) -> None:
    r = build_report(data_dir, ReportOptions(Period.parse(PERIOD)))
    c = r.coordination
    assert len(c.rows) == 3
    assert c.by_state == {"concluded": 2, "withdrawn": 1}
    assert c.by_answer == {"agreed": 2, "lapsed": 1, "objected": 1, "waiting": 2}
    # answers after 2, 4 and 6 days (the lapsed one is an outcome, not an answer time)
    assert c.answer_time.n == 3
    assert c.answer_time.median_s == pytest.approx(4 * 86400.0)
    assert c.answer_time.max_s == pytest.approx(6 * 86400.0)
    html = render_html(r)
    assert '<p class="coord-total" data-count="3">' in html
    assert 'data-median-s="345600.000"' in html
    zh = render_html(r, "zh_CN")
    assert "协调请求" in zh and "期限内未答复" in zh


def test_province_filter_and_a_period_before_any_request(data_dir: Path) -> None:
    only_zj = build_report(data_dir, ReportOptions(Period.parse(PERIOD), province="ZJ")).coordination
    assert len(only_zj.rows) == 3  # ZJ was asked in every request
    ah = build_report(data_dir, ReportOptions(Period.parse(PERIOD), province="AH")).coordination
    assert ah.rows == ()
    before = build_report(data_dir, ReportOptions(Period.parse("2026-02-01..2026-02-28")))
    assert before.coordination.rows == ()
    assert "No coordination request in the period." in render_html(before)
