"""Joint campaigns switch their sensors' profiles and back; cross-province tasking within and over quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordination.campaigns import Campaign, CampaignError, CampaignRunner
from coordination.protocol import MonitoringProfile
from coordination.tasking import ListAudit, TaskingDesk, TaskingError, TaskingPolicy

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
NORMAL = (MonitoringProfile("pmr446", 446.0e6, 446.2e6, 3125.0),
          MonitoringProfile("maritime_vhf", 156.0e6, 162.05e6, 6250.0))
CAMPAIGN = (MonitoringProfile("gsm_r_uplink", 876.0e6, 880.0e6, 12_500.0, detector="peak", revisit_s=0.5),)
OWNERS = {"js-kunshan": "JS", "js-taicang": "JS", "sh-jiading": "SH", "zj-jiaxing": "ZJ"}


class Sent:
    def __init__(self) -> None:
        self.log: list[tuple[str, tuple[str, ...]]] = []

    def send_profiles(self, sensor_id: str, profiles: tuple[MonitoringProfile, ...]) -> None:
        self.log.append((sensor_id, tuple(p.name for p in profiles)))


def _campaign(cid: str = "rail-2026-12", sensors=("js-kunshan", "sh-jiading"), start=T0, hours=6) -> Campaign:
    return Campaign(cid, "SH", ("SH", "JS"), tuple(sensors), CAMPAIGN, start, start + timedelta(hours=hours),
                    "GSM-R interference along the Shanghai-Nanjing line")


def test_campaign_switches_its_sensors_profiles_at_start_and_back_at_end() -> None:
    sent, reports = Sent(), []
    runner = CampaignRunner(lambda sid: NORMAL, sent, report=lambda c: reports.append(c.id) or Path(f"{c.id}.html"))
    runner.add(_campaign())
    assert runner.step(T0 - timedelta(minutes=1)) == [] and sent.log == []
    ev = runner.step(T0)
    assert [(e.campaign_id, e.what) for e in ev] == [("rail-2026-12", "started")]
    assert sent.log == [("js-kunshan", ("gsm_r_uplink",)), ("sh-jiading", ("gsm_r_uplink",))]
    assert runner.profiles_for("js-kunshan", T0 + timedelta(hours=1)) == CAMPAIGN  # a Hello mid-campaign
    assert runner.profiles_for("zj-jiaxing", T0 + timedelta(hours=1)) is None
    assert runner.step(T0 + timedelta(hours=3)) == []  # nothing due: no repeated sends
    ev = runner.step(T0 + timedelta(hours=6))
    assert [(e.what, e.report) for e in ev] == [("ended", Path("rail-2026-12.html"))]
    assert sent.log[2:] == [("js-kunshan", ("pmr446", "maritime_vhf")), ("sh-jiading", ("pmr446", "maritime_vhf"))]
    assert reports == ["rail-2026-12"]
    assert runner.profiles_for("js-kunshan", T0 + timedelta(hours=7)) is None


def test_a_campaign_missed_entirely_still_reports_and_never_switches() -> None:
    sent = Sent()
    runner = CampaignRunner(lambda sid: NORMAL, sent, report=None)
    runner.add(_campaign(hours=1))
    ev = runner.step(T0 + timedelta(hours=2))
    assert [e.what for e in ev] == ["ended"] and sent.log == []


def test_overlapping_campaigns_may_not_share_a_sensor() -> None:
    runner = CampaignRunner(lambda sid: NORMAL, Sent())
    runner.add(_campaign())
    with pytest.raises(CampaignError, match="js-kunshan are in campaign rail-2026-12"):
        runner.add(_campaign("second", sensors=("js-kunshan",), start=T0 + timedelta(hours=5)))
    runner.add(_campaign("later", sensors=("js-kunshan",), start=T0 + timedelta(hours=6)))  # back to back is fine


@pytest.mark.parametrize("changes,match", [
    ({"end": T0}, "not after its start"), ({"sensors": ()}, "no sensors"), ({"profiles": ()}, "no monitoring"),
    ({"lead": "AH"}, "lead AH"), ({"end": T0 + timedelta(days=40)}, "longer than 31 days"), ({"id": "a b"}, "id"),
])
def test_bad_plans_are_refused_naming_the_field(changes: dict, match: str) -> None:
    base = {"id": "c1", "lead": "SH", "provinces": ("SH", "JS"), "sensors": ("js-kunshan",), "profiles": CAMPAIGN,
            "start": T0, "end": T0 + timedelta(hours=1)}
    with pytest.raises(CampaignError, match=match):
        Campaign(**(base | changes))


def _desk(mode: str = "auto", quota: int = 3) -> tuple[TaskingDesk, ListAudit]:
    audit = ListAudit()
    return TaskingDesk({"JS": TaskingPolicy("JS", mode, quota)}, OWNERS.get, audit), audit


def test_tasking_within_quota_is_granted_automatically_and_over_quota_goes_to_an_operator() -> None:
    desk, audit = _desk(quota=3)
    got = [desk.request("SH", "js-kunshan", "iq_snapshot", {"center_hz": 450.0125e6, "duration_s": 0.5},
                        "locate the PMR repeater", "sh-op", T0 + timedelta(minutes=i)) for i in range(4)]
    assert [r.state for r in got] == ["granted", "granted", "granted", "pending"]
    assert desk.used("JS", "SH", "2026-12-05") == 3
    assert "over SH's daily quota of 3" in audit.entries[-1].detail
    # another province has its own quota; the next UTC day starts afresh
    assert desk.request("ZJ", "js-taicang", "measurement", {}, "border check", "zj-op", T0).state == "granted"
    assert desk.request("SH", "js-kunshan", "measurement", {}, "again", "sh-op", T0 + timedelta(days=1)
                        ).state == "granted"
    # the queued one: only JS (the owner) decides it, and a refusal needs a reason
    with pytest.raises(TaskingError, match="only JS"):
        desk.decide(got[3].id, True, "sh-op", "SH", T0 + timedelta(hours=1))
    with pytest.raises(TaskingError, match="reason"):
        desk.decide(got[3].id, False, "js-op", "JS", T0 + timedelta(hours=1))
    r = desk.decide(got[3].id, True, "js-op", "JS", T0 + timedelta(hours=1))
    assert (r.state, r.decided_by) == ("granted", "js-op")
    done = desk.complete(r.id, "cap-js-kunshan-0042", T0 + timedelta(hours=1, minutes=2))
    assert done.result == "cap-js-kunshan-0042"
    whats = [(e.request_id, e.what) for e in audit.entries if e.request_id == r.id]
    assert whats == [(r.id, "requested"), (r.id, "queued"), (r.id, "granted"), (r.id, "done")]


def test_operator_policy_queues_every_request_and_own_sensors_need_no_leave() -> None:
    desk, _ = _desk(mode="operator")
    assert desk.request("SH", "js-kunshan", "measurement", {}, "why", "sh-op", T0).state == "pending"
    assert desk.request("JS", "js-kunshan", "measurement", {}, "own", "js-op", T0).state == "granted"
    assert desk.request("JS", "zj-jiaxing", "measurement", {}, "no policy: operator", "js-op", T0
                        ).state == "pending"
    with pytest.raises(TaskingError, match="unknown sensor"):
        desk.request("JS", "ah-hefei", "measurement", {}, "x", "js-op", T0)
    with pytest.raises(TaskingError, match="reason"):
        desk.request("JS", "zj-jiaxing", "measurement", {}, " ", "js-op", T0)


def test_campaign_report_is_the_reports_machinerys_over_the_campaign_period(tmp_path: Path) -> None:
    from report_testkit import DAY1, build_world

    from coordination.campaigns import report_writer

    world = build_world(tmp_path)
    c = Campaign("border-week", "JS", ("JS", "ZJ"), ("js-01", "zj-01"), CAMPAIGN, DAY1, DAY1 + timedelta(days=2),
                 "PMR 400 at the JS/ZJ border")
    sent = Sent()
    runner = CampaignRunner(lambda sid: NORMAL, sent, report=report_writer(world.data_dir, tmp_path / "reports"))
    runner.add(c)
    runner.step(DAY1)
    (ev,) = runner.step(DAY1 + timedelta(days=2))
    assert ev.what == "ended" and ev.report == tmp_path / "reports" / "campaign-border-week.html"
    html = ev.report.read_text(encoding="utf-8")
    assert "2026-11-01" in html and "js-01" in html and "<html" in html.lower()
    assert runner.reports["border-week"] == str(ev.report)
