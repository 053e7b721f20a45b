"""Joint campaigns: a time-boxed plan over several provinces' sensors, and the runner that keeps it.

A campaign names its lead province, the sensors taking part, the monitoring profiles they run for
its duration, and when it starts and ends. The runner is stepped with the time: at the start it
sends each campaign sensor the campaign's profiles (a ``profile`` message, the same one a sensor
gets at Hello), at the end it sends the sensor's normal profiles back and asks for the campaign
report (the reports machinery, :mod:`coordination.report`, over the campaign's period). A sensor
that says Hello during a campaign is given the campaign's profiles (:meth:`profiles_for`). One
sensor is in at most one campaign at a time (an overlapping plan is refused when it is added).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from coordination.protocol import MonitoringProfile, format_utc, parse_utc

log = logging.getLogger(__name__)

MAX_DURATION = timedelta(days=31)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class CampaignError(ValueError):
    """A campaign plan that cannot run as written; says which field and why."""


@dataclass(frozen=True)
class Campaign:
    id: str
    lead: str
    provinces: tuple[str, ...]
    sensors: tuple[str, ...]
    profiles: tuple[MonitoringProfile, ...]
    start: datetime
    end: datetime
    title: str = ""

    def __post_init__(self) -> None:
        if not _ID_RE.match(self.id):
            raise CampaignError(f"campaign id {self.id!r}: 1-64 letters, digits, '_', '.', '-'")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise CampaignError(f"campaign {self.id}: start and end must be timezone-aware UTC")
        if self.end <= self.start:
            raise CampaignError(f"campaign {self.id}: end {self.end.isoformat()} is not after its start")
        if self.end - self.start > MAX_DURATION:
            raise CampaignError(f"campaign {self.id}: longer than {MAX_DURATION.days} days")
        if not self.sensors:
            raise CampaignError(f"campaign {self.id}: no sensors")
        if not self.profiles:
            raise CampaignError(f"campaign {self.id}: no monitoring profiles")
        if self.lead not in self.provinces:
            raise CampaignError(f"campaign {self.id}: lead {self.lead} is not one of its provinces {self.provinces}")

    def running_at(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "lead": self.lead, "provinces": list(self.provinces),
                "sensors": list(self.sensors), "profiles": [p.to_dict() for p in self.profiles],
                "start": format_utc(self.start), "end": format_utc(self.end)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Campaign:
        """A stored plan back (written by :meth:`to_json`); CampaignError if it cannot be read."""
        try:
            return cls(str(d["id"]), str(d["lead"]), tuple(d["provinces"]), tuple(d["sensors"]),
                       tuple(MonitoringProfile.from_dict(p) for p in d["profiles"]), parse_utc(d["start"]),
                       parse_utc(d["end"]), str(d.get("title", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise CampaignError(f"stored campaign {d.get('id')!r} is not readable: {exc}") from exc


class CampaignSink(Protocol):
    def save_campaign(self, campaign: Campaign, state: str, report: str | None) -> None:
        """Keep the plan and where it is (planned, running, finished; its report), for a restart."""


class ProfileSender(Protocol):
    def send_profiles(self, sensor_id: str, profiles: tuple[MonitoringProfile, ...]) -> None:
        """Give the sensor these profiles now (a ``profile`` message)."""


@dataclass(frozen=True)
class CampaignEvent:
    campaign_id: str
    what: str  # started | ended
    t: datetime
    report: Path | None = None


class CampaignRunner:
    """Plans by id and where each is (planned, running, finished); :meth:`step` does what is due."""

    def __init__(self, normal_profiles: Callable[[str], tuple[MonitoringProfile, ...]], sender: ProfileSender,
                 report: Callable[[Campaign], Path | None] | None = None, *,
                 saved: Iterable[tuple[Campaign, str, str | None]] = (), sink: CampaignSink | None = None) -> None:
        """``saved``: (plan, state, report) a store kept; a campaign that was running when the server
        stopped is stepped again (its sensors get its profiles at their Hello, its end switches them back)."""
        self.normal_profiles = normal_profiles
        self.sender = sender
        self.report = report
        self.sink = sink
        self.campaigns: dict[str, Campaign] = {}
        self.state: dict[str, str] = {}
        self.reports: dict[str, str | None] = {}  # campaign id -> its report file (None: none could be made)
        for c, state, rep in saved:
            self.campaigns[c.id], self.state[c.id], self.reports[c.id] = c, state, rep

    def add(self, c: Campaign) -> None:
        if c.id in self.campaigns:
            raise CampaignError(f"a campaign {c.id!r} exists already")
        for other in self.campaigns.values():
            if self.state[other.id] != "finished" and other.start < c.end and c.start < other.end:
                shared = sorted(set(other.sensors) & set(c.sensors))
                if shared:
                    raise CampaignError(f"campaign {c.id}: sensors {', '.join(shared)} are in campaign {other.id} "
                                        f"({other.start.isoformat()} .. {other.end.isoformat()}) at the same time")
        self.campaigns[c.id] = c
        self.state[c.id] = "planned"
        self._keep(c)

    def _keep(self, c: Campaign) -> None:
        if self.sink is not None:
            self.sink.save_campaign(c, self.state[c.id], self.reports.get(c.id))

    def profiles_for(self, sensor_id: str, t: datetime) -> tuple[MonitoringProfile, ...] | None:
        """The campaign profiles a sensor runs at ``t`` (None: its normal ones)."""
        for c in self.campaigns.values():
            if self.state[c.id] == "running" and sensor_id in c.sensors and c.running_at(t):
                return c.profiles
        return None

    def step(self, now: datetime) -> list[CampaignEvent]:
        out: list[CampaignEvent] = []
        for c in sorted(self.campaigns.values(), key=lambda c: c.start):
            st = self.state[c.id]
            if st == "planned" and now >= c.start and now < c.end:
                for sid in c.sensors:
                    self.sender.send_profiles(sid, c.profiles)
                self.state[c.id] = "running"
                self._keep(c)
                out.append(CampaignEvent(c.id, "started", now))
            elif st in ("planned", "running") and now >= c.end:
                if st == "running":
                    for sid in c.sensors:
                        self.sender.send_profiles(sid, self.normal_profiles(sid))
                self.state[c.id] = "finished"
                path = None
                if self.report is not None:
                    try:
                        path = self.report(c)
                    except Exception:  # a campaign ends (and its sensors are back) even when its report fails
                        log.exception("campaign %s: the report could not be made", c.id)
                self.reports[c.id] = None if path is None else str(path)
                self._keep(c)
                out.append(CampaignEvent(c.id, "ended", now, path))
        return out


def report_writer(archive_dir: Path, out_dir: Path, lang: str | None = None) -> Callable[[Campaign], Path | None]:
    """A ``report`` for the runner: the reports machinery over the campaign's period (all provinces: it is shared)."""
    def write(c: Campaign) -> Path | None:
        from coordination.report import Period, ReportOptions, build_report, render_html

        rep = build_report(archive_dir, ReportOptions(period=Period(c.start, c.end), province=None))
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"campaign-{c.id}.html"
        path.write_text(render_html(rep, lang), encoding="utf-8")
        return path
    return write

