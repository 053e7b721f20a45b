"""The alert repository: alert documents, and what federated centres need to keep one alert each.

Alerts are kept as their documented JSON (docs/alert-schema.md) plus a few indexed columns;
:class:`DatabaseAlertStore` implements the rules engine's ``AlertStore`` protocol on top.

Several servers writing one shared database (federation, docs/deployment.md) stay consistent
through the database alone: an alert's state only moves forward (open -> acknowledged ->
resolved) in the upsert itself, so a late update from one centre cannot undo another centre's
acknowledgement; a partial unique index on (band, channel, cluster key) of the active, unlinked
alerts lets exactly one centre's alert stand for a cross-border emitter
(:meth:`AlertRepository.claim_alert`); every alert write takes the next value of a one-row
revision counter, whose row lock orders the writes so the other centres can follow them with
``rev > last seen`` (:meth:`AlertRepository.alerts_since`). Acknowledgements of another centre's
alert are queued for its owner (``alert_actions``); each centre beats (``centres``) so the others
can take over its alerts when it falls silent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coordination.alerts import Alert
from coordination.store.unit import UnitOfWork

#: State order: an alert's state never moves back (another centre's ack survives a late update).
_STATE_RANK = "(CASE {} WHEN 'resolved' THEN 2 WHEN 'acknowledged' THEN 1 ELSE 0 END)"


@dataclass(frozen=True)
class AlertClaim:
    """An alert's standing between federated centres, as the shared store has it."""

    centre: str | None
    state: str
    cluster_key: str | None
    acknowledged_by: str | None


class AlertRepository:
    """Alert rows (table ``alerts``), revisions, federation claims, queued actions, centre beats.

    ``centre``: the province code of the centre writing (None: a single server, which reads and
    writes everything); it marks the alerts this centre wrote, so a centre restores only its own.
    """

    def __init__(self, unit: UnitOfWork, centre: str | None = None) -> None:
        self.unit = unit
        self.db = unit.db
        self.centre = centre

    def _next_rev(self) -> int:
        row = self.db.fetchone("UPDATE alert_rev SET n = n + 1 WHERE one = 1 RETURNING n")
        assert row is not None
        return int(row[0])

    @staticmethod
    def _alert_columns(doc: Mapping[str, Any]) -> tuple[Any, ...]:
        provinces = sorted(set(doc.get("provinces_source") or []) | set(doc.get("provinces_affected") or []))
        ch = doc.get("channel_hz")
        return (str(doc["id"]), str(doc.get("state", "open")), "," + ",".join(provinces) + ",", doc.get("severity"),
                doc.get("first_seen"), doc.get("last_seen"), json.dumps(doc, separators=(",", ":")),
                doc.get("band"), None if ch is None else float(ch), doc.get("acknowledged_by"), doc.get("resolved_by"))

    _UPSERT = (
        "INSERT INTO alerts (id, state, provinces, severity, first_seen, last_seen, json, band, channel_hz, "
        "acknowledged_by, resolved_by, centre, cluster_key, canonical_id, rev) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET "
        f"state = CASE WHEN {_STATE_RANK.format('alerts.state')} > {_STATE_RANK.format('excluded.state')} "
        "THEN alerts.state ELSE excluded.state END, "
        "provinces = excluded.provinces, severity = excluded.severity, first_seen = excluded.first_seen, "
        "last_seen = excluded.last_seen, json = excluded.json, band = excluded.band, channel_hz = excluded.channel_hz, "
        "acknowledged_by = COALESCE(alerts.acknowledged_by, excluded.acknowledged_by), "
        "resolved_by = COALESCE(alerts.resolved_by, excluded.resolved_by), "
        "centre = COALESCE(alerts.centre, excluded.centre), "
        "cluster_key = COALESCE(excluded.cluster_key, alerts.cluster_key), "
        "canonical_id = COALESCE(excluded.canonical_id, alerts.canonical_id), rev = excluded.rev"
    )

    def save_alert_json(self, doc: Mapping[str, Any], *, cluster_key: str | None = None,
                        canonical_id: str | None = None) -> None:
        """Upsert an alert document; its state only moves forward (see module docstring).

        ``cluster_key``: the cross-border key this alert stands for (claimed with :meth:`claim_alert`);
        ``canonical_id``: another centre's alert this one links to (then hidden from listings).
        """
        self.unit.begin()
        self.db.execute(self._UPSERT, (*self._alert_columns(doc), self.centre, cluster_key, canonical_id,
                                       self._next_rev()))

    def claim_alert(self, doc: Mapping[str, Any], cluster_key: str) -> str:
        """Make ``doc`` the one active alert for its (band, channel, ``cluster_key``), or link it to the
        alert another centre already made; return the id that stands for the emitter.

        The partial unique index decides, inside the database: of several centres claiming at once,
        exactly one insert succeeds, the others see a unique violation (PostgreSQL waits for the first
        transaction to commit or roll back before deciding) and link to the winner.
        """
        self.unit.begin()
        alert_id = str(doc["id"])
        self.db.execute("SAVEPOINT claim")
        try:
            self.db.execute(self._UPSERT, (*self._alert_columns(doc), self.centre, cluster_key, None,
                                           self._next_rev()))
        except self.db.integrity_errors:
            self.db.execute("ROLLBACK TO SAVEPOINT claim")
            self.db.execute("RELEASE SAVEPOINT claim")
        else:
            self.db.execute("RELEASE SAVEPOINT claim")
            return alert_id
        winner = self.standing_alert(doc.get("band"), float(doc.get("channel_hz") or 0.0), cluster_key)
        if winner is None:  # the winner was resolved meanwhile: claim again
            return self.claim_alert(doc, cluster_key)
        self.save_alert_json(doc, cluster_key=cluster_key, canonical_id=winner)
        return winner

    def standing_alert(self, band: str | None, channel_hz: float, cluster_key: str) -> str | None:
        """The id of the active, unlinked alert that stands for (band, channel, ``cluster_key``), if any."""
        row = self.db.fetchone(
            "SELECT id FROM alerts WHERE band = ? AND channel_hz = ? AND cluster_key = ? AND canonical_id IS NULL "
            "AND state <> 'resolved'", (band, channel_hz, cluster_key))
        return None if row is None else str(row[0])

    def active_claims(self, centre: str) -> list[tuple[str, str | None, str | None]]:
        """(alert id, cluster key, linked-to id) of the unresolved alerts ``centre`` wrote (its state
        after a restart)."""
        return [(str(r[0]), r[1], r[2]) for r in self.db.fetchall(
            "SELECT id, cluster_key, canonical_id FROM alerts WHERE centre = ? AND state <> 'resolved'", (centre,))]

    def alert_claim(self, alert_id: str) -> AlertClaim | None:
        """Who owns ``alert_id``, its state, key and acknowledgement (None: no such alert)."""
        row = self.db.fetchone("SELECT centre, state, cluster_key, acknowledged_by FROM alerts WHERE id = ?",
                               (alert_id,))
        return None if row is None else AlertClaim(row[0], str(row[1]), row[2], row[3])

    def alert_link(self, alert_id: str) -> str | None:
        """The alert ``alert_id`` links to (another centre's), or None when it stands for itself."""
        row = self.db.fetchone("SELECT canonical_id FROM alerts WHERE id=?", (alert_id,))
        return None if row is None or row[0] is None else str(row[0])

    @staticmethod
    def _overlay(row: Sequence[Any]) -> dict[str, Any]:
        """The stored document with the state columns (which only move forward) laid over it."""
        doc = json.loads(row[0])
        state, acked, resolved = row[1], row[2], row[3]
        if state != doc.get("state"):
            doc["state"] = state
            doc["event"] = {"acknowledged": "acknowledged", "resolved": "resolved"}.get(state, doc.get("event"))
        if acked and not doc.get("acknowledged_by"):
            doc["acknowledged_by"] = acked
        if resolved and not doc.get("resolved_by"):
            doc["resolved_by"] = resolved
        if len(row) > 4 and row[4]:
            doc["centre"] = row[4]
        return doc

    def alert_json(self, alert_id: str) -> dict[str, Any] | None:
        row = self.db.fetchone("SELECT json, state, acknowledged_by, resolved_by, centre FROM alerts WHERE id=?",
                               (alert_id,))
        return self._overlay(row) if row else None

    def list_alert_json(self, states: Sequence[str] | None = None, province: str | None = None,
                        limit: int = 10_000, *, own_only: bool = False) -> list[dict[str, Any]]:
        """Alerts (newest first) without the ones linked to another centre's alert.

        ``own_only``: only those this centre wrote (what its engine restores at start).
        """
        q = "SELECT json, state, acknowledged_by, resolved_by, centre FROM alerts WHERE canonical_id IS NULL"
        args: list[Any] = []
        if own_only:
            q, args = (q.replace("WHERE canonical_id IS NULL", "WHERE 1=1"), args)
            if self.centre is not None:
                q += " AND centre = ?"
                args.append(self.centre)
        if states:
            q += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        if province:
            q += " AND provinces LIKE ?"
            args.append(f"%,{province},%")
        q += " ORDER BY last_seen DESC, id LIMIT ?"
        args.append(limit)
        return [self._overlay(r) for r in self.db.fetchall(q, args)]

    def alerts_since(self, rev: int, province: str | None = None,
                     limit: int = 1000) -> tuple[int, list[dict[str, Any]]]:
        """Alert documents written after revision ``rev`` (standing alerts only), and the last revision seen.

        Revisions are taken under the counter row's lock, so they commit in order: following
        ``rev > last`` misses nothing another centre wrote.
        """
        q = ("SELECT json, state, acknowledged_by, resolved_by, centre, rev FROM alerts "
             "WHERE rev > ? AND canonical_id IS NULL")
        args: list[Any] = [rev]
        if province:
            q += " AND provinces LIKE ?"
            args.append(f"%,{province},%")
        rows = self.db.fetchall(q + " ORDER BY rev LIMIT ?", [*args, limit])
        last = max([rev, *(int(r[5]) for r in rows)])
        return last, [self._overlay(r) for r in rows]

    def alert_revision(self) -> int:
        row = self.db.fetchone("SELECT n FROM alert_rev WHERE one = 1")
        return int(row[0]) if row else 0

    def alert_owner(self, alert_id: str) -> str | None:
        """The centre that wrote ``alert_id`` (None: a single server, or unknown)."""
        row = self.db.fetchone("SELECT centre FROM alerts WHERE id=?", (alert_id,))
        return None if row is None else row[0]

    def apply_alert_action(self, alert_id: str, action: str, by: str, note: str | None, now_iso: str) -> dict[str, Any]:
        """Acknowledge/resolve an alert another centre wrote, in the database; queue the action for it.

        The state moves forward at once (visible in every centre); the owner applies the action to
        its engine when it next looks (:meth:`pending_actions`), so its later updates agree.
        """
        if action not in ("acknowledge", "resolve"):
            raise ValueError(f"unknown alert action {action!r}")
        self.unit.begin()
        row = self.db.fetchone("SELECT centre FROM alerts WHERE id=? AND canonical_id IS NULL", (alert_id,))
        if row is None:
            raise KeyError(alert_id)
        state, col = ("acknowledged", "acknowledged_by") if action == "acknowledge" else ("resolved", "resolved_by")
        self.db.execute(
            f"UPDATE alerts SET state = CASE WHEN {_STATE_RANK.format('state')} >= {_STATE_RANK.format('?')} "
            f"THEN state ELSE ? END, {col} = COALESCE({col}, ?), rev = ? WHERE id = ?",
            (state, state, by, self._next_rev(), alert_id))
        self.db.execute("INSERT INTO alert_actions (alert_id, centre, action, by_whom, note, t_utc) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (alert_id, row[0] or "", action, by, note, now_iso))
        doc = self.alert_json(alert_id)
        assert doc is not None
        if note:
            doc["note"] = note if not doc.get("note") else f"{doc['note']}; {note}"
        return doc

    def beat(self, now_iso: str, info: Mapping[str, Any] | None = None) -> None:
        """Record that this centre is alive (in the open transaction; the caller commits)."""
        if self.centre is None:
            return
        self.unit.begin()
        self.db.execute("INSERT INTO centres (code, last_beat_utc, info) VALUES (?, ?, ?) ON CONFLICT (code) "
                        "DO UPDATE SET last_beat_utc = excluded.last_beat_utc, info = excluded.info",
                        (self.centre, now_iso, json.dumps(dict(info or {}))))

    def centre_beats(self) -> dict[str, str]:
        """Last heartbeat (ISO UTC) of every centre that ever beat."""
        return {str(c): str(t) for c, t in self.db.fetchall("SELECT code, last_beat_utc FROM centres")}

    def take_over_alert(self, standing_id: str, from_centre: str, local_id: str, key: str,
                        now_iso: str) -> bool:
        """Replace ``standing_id`` (owned by ``from_centre``, which has stopped beating) by our linked
        ``local_id``: one transaction; False when another centre did it first or the owner moved it.

        The old alert is resolved (forward-only state; its row names the successor in ``note`` via the
        caller's publication), ours stops linking and takes its cluster key. The partial unique index
        still guarantees one standing alert per key should two centres try at once.
        """
        self.unit.begin()
        self.db.execute("SAVEPOINT takeover")
        try:
            row = self.db.fetchone(
                "UPDATE alerts SET state = 'resolved', resolved_by = COALESCE(resolved_by, ?), rev = ? "
                "WHERE id = ? AND centre = ? AND state <> 'resolved' RETURNING id",
                (f"federation:{self.centre}", self._next_rev(), standing_id, from_centre))
            if row is None:
                self.db.execute("ROLLBACK TO SAVEPOINT takeover")
                self.db.execute("RELEASE SAVEPOINT takeover")
                return False
            self.db.execute("UPDATE alerts SET canonical_id = NULL, cluster_key = ?, rev = ? WHERE id = ?",
                            (key, self._next_rev(), local_id))
        except self.db.integrity_errors:
            self.db.execute("ROLLBACK TO SAVEPOINT takeover")
            self.db.execute("RELEASE SAVEPOINT takeover")
            return False
        self.db.execute("RELEASE SAVEPOINT takeover")
        return True

    def pending_actions(self) -> list[tuple[int, str, str, str, str | None]]:
        """(action_id, alert_id, action, by, note) queued by other centres for this centre's alerts."""
        return [(int(r[0]), r[1], r[2], r[3], r[4]) for r in self.db.fetchall(
            "SELECT action_id, alert_id, action, by_whom, note FROM alert_actions WHERE centre = ? AND done = 0 "
            "ORDER BY action_id", (self.centre or "",))]

    def action_done(self, action_id: int) -> None:
        self.unit.begin()
        self.db.execute("UPDATE alert_actions SET done = 1 WHERE action_id = ?", (action_id,))


class DatabaseAlertStore:
    """The engine's ``AlertStore`` protocol on the server database (SQLite file or shared PostgreSQL).

    ``decode`` turns the stored alert JSON back into the engine's ``Alert`` (``Alert.from_json``);
    it is injected so this module does not depend on the rules engine's classes.
    """

    ACTIVE_STATES = ("open", "acknowledged")

    def __init__(self, alerts: AlertRepository, decode: Callable[[Mapping[str, Any]], Alert]) -> None:
        self.alerts = alerts
        self.decode = decode

    def save(self, alert: Alert) -> None:
        self.alerts.save_alert_json(alert.to_json())

    def load_active(self) -> list[Alert]:
        """The active alerts this server wrote (in a shared database, not the other centres' ones)."""
        return [self.decode(d) for d in reversed(self.alerts.list_alert_json(self.ACTIVE_STATES, own_only=True))]

    def get(self, alert_id: str) -> Alert | None:
        doc = self.alerts.alert_json(alert_id)
        return None if doc is None else self.decode(doc)

    def list(self, state: str | None = None, province: str | None = None) -> list[Alert]:
        states = None if state in (None, "all") else [state]
        return [self.decode(d) for d in self.alerts.list_alert_json(states, province)]
