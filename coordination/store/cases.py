"""The store's case tables: the append-only case event log, a summary row per case, the tasking audit.

One concern of the server's store (tables made by schema migration 4 in :mod:`coordination.store.schema`),
writing through the store's :class:`~coordination.store.unit.UnitOfWork` in the portable SQL of
:mod:`station_db.backend` (SQLite, or the shared PostgreSQL of federated centres). The events are
the record (``case_events``, primary key ``(case_id, seq)``); ``cases`` is a summary kept in the
same transaction for listing by state and province.

Appending is conditional: ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on ``(case_id, seq)``,
so when two centres append the same next event of a case only one row lands and the other gets
:class:`~coordination.casebook.CaseConflictError` (the desk rebuilds its command on the new head).
Nothing here updates or deletes an event; :func:`coordination.caselog.verify` finds one that was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from coordination.campaigns import Campaign
from coordination.casebook import CaseConflictError
from coordination.caselog import canonical_json
from coordination.cases import Case, CaseEvent, format_time, parse_time, replay
from coordination.store.unit import UnitOfWork
from coordination.tasking import AuditEntry, TaskingRequest


class CaseTables:
    """A :class:`~coordination.casebook.CaseRepository` (and a tasking audit sink) over the store's database."""

    def __init__(self, unit: UnitOfWork, centre: str | None = None) -> None:
        self.unit = unit
        self.db = unit.db
        self.centre = centre

    # ------------------------------------------------------------ CaseRepository

    def append_event(self, ev: CaseEvent) -> None:
        """Append ``ev`` and update its case's summary in one transaction; CaseConflictError if seq is taken."""
        self.unit.begin()
        try:
            got = self.db.fetchone(
                "INSERT INTO case_events (case_id, seq, kind, t_utc, actor, province, data, prev_hash, hash, centre) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, seq) DO NOTHING RETURNING seq",
                (ev.case_id, ev.seq, ev.kind, format_time(ev.t_utc), ev.actor, ev.province,
                 canonical_json(dict(ev.data)).decode(), ev.prev_hash, ev.hash, self.centre))
            if got is None:
                self.unit.commit()
                raise CaseConflictError(f"case {ev.case_id}: event {ev.seq} was written by another centre first")
            self._summarise(replay(self.case_events(ev.case_id)))
            self.unit.commit()
        except CaseConflictError:
            raise
        except BaseException:
            self.unit.rollback()
            raise

    def _summarise(self, c: Case) -> None:
        provinces = "," + ",".join(dict.fromkeys([*c.provinces, c.holder, *(t.for_province for t in c.tasks),
                                                  *([c.handover.to] if c.handover else [])])) + ","
        self.db.execute(
            "INSERT INTO cases (case_id, alert_id, state, holder, provinces, severity, opened_at, updated_at, "
            "n_events, head_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE SET "
            "state = excluded.state, holder = excluded.holder, provinces = excluded.provinces, "
            "updated_at = excluded.updated_at, n_events = excluded.n_events, head_hash = excluded.head_hash",
            (c.id, c.alert_id, c.state, c.holder, provinces, c.severity, format_time(c.opened_at),
             format_time(c.updated_at), c.n_events, c.head_hash))

    def case_events(self, case_id: str) -> list[CaseEvent]:
        rows = self.db.fetchall("SELECT case_id, seq, kind, t_utc, actor, province, data, prev_hash, hash "
                                "FROM case_events WHERE case_id = ? ORDER BY seq", (case_id,))
        return [_event(r) for r in rows]

    def case_ids(self, state: str | None = None, province: str | None = None) -> list[str]:
        sql, params = "SELECT case_id FROM cases WHERE 1 = 1", []
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        if province is not None:
            sql += " AND provinces LIKE ?"
            params.append(f"%,{province},%")
        rows = self.db.fetchall(sql + " ORDER BY opened_at, case_id", params)
        return [str(r[0]) for r in rows]

    def case_rows(self) -> list[dict[str, Any]]:
        """Case summaries: id, alert, state, holder, updated (the demo's summary, the CLI's list)."""
        rows = self.db.fetchall("SELECT case_id, alert_id, state, holder, severity, updated_at, n_events FROM cases "
                                "ORDER BY opened_at, case_id")
        return [{"id": r[0], "alert_id": r[1], "state": r[2], "holder": r[3], "severity": r[4], "updated_at": r[5],
                 "n_events": int(r[6])} for r in rows]

    # ------------------------------------------------------------ tasking audit

    def record(self, entry: AuditEntry) -> None:
        self.unit.begin()
        self.db.execute("INSERT INTO tasking_audit (t_utc, request_id, what, by_whom, detail, centre) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (format_time(entry.t), entry.request_id, entry.what, entry.by,
                                                      entry.detail, self.centre))
        self.unit.commit()

    def tasking_audit(self, request_id: str | None = None) -> list[tuple[str, str, str, str, str]]:
        sql = "SELECT t_utc, request_id, what, by_whom, detail FROM tasking_audit"
        params: Sequence[Any] = ()
        if request_id is not None:
            sql, params = sql + " WHERE request_id = ?", (request_id,)
        return [tuple(str(x) for x in r) for r in self.db.fetchall(sql + " ORDER BY id", params)]  # type: ignore[misc]


    # ------------------------------------------------------------ tasking requests and campaigns

    def save_request(self, request: TaskingRequest) -> None:
        """Keep a tasking request as it now stands (its decision, result)."""
        self.unit.begin()
        self.db.execute(
            "INSERT INTO tasking_requests (id, owner, from_province, state, requested_utc, doc, centre) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, doc = excluded.doc",
            (request.id, request.owner, request.from_province, request.state, format_time(request.requested_at),
             json.dumps(request.to_json(), sort_keys=True), self.centre))
        self.unit.commit()

    def tasking_requests(self) -> list[TaskingRequest]:
        """This centre's requests (all of them with one server), oldest first."""
        sql, params = "SELECT doc FROM tasking_requests", []
        if self.centre is not None:
            sql, params = sql + " WHERE centre = ?", [self.centre]
        rows = self.db.fetchall(sql + " ORDER BY requested_utc, id", params)
        return [TaskingRequest.from_json(json.loads(r[0])) for r in rows]

    def save_campaign(self, campaign: Campaign, state: str, report: str | None) -> None:
        self.unit.begin()
        self.db.execute("INSERT INTO campaigns (id, state, doc, report, centre) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (id) DO UPDATE SET state = excluded.state, doc = excluded.doc, "
                        "report = excluded.report",
                        (campaign.id, state, json.dumps(campaign.to_json(), sort_keys=True), report, self.centre))
        self.unit.commit()

    def campaigns(self) -> list[tuple[Campaign, str, str | None]]:
        """This centre's campaign plans with their state and report."""
        sql, params = "SELECT doc, state, report FROM campaigns", []
        if self.centre is not None:
            sql, params = sql + " WHERE centre = ?", [self.centre]
        rows = self.db.fetchall(sql + " ORDER BY id", params)
        return [(Campaign.from_json(json.loads(r[0])), str(r[1]), r[2]) for r in rows]


def _event(r: Sequence[Any]) -> CaseEvent:
    """A stored row back into an event, exactly as stored (no validation: ``verify`` judges it)."""
    return CaseEvent(case_id=str(r[0]), seq=int(r[1]), kind=str(r[2]), t_utc=parse_time(r[3], "case_events.t_utc"),
                     actor=str(r[4]), province=str(r[5]), data=json.loads(r[6]), prev_hash=str(r[7]),
                     hash=str(r[8]))
