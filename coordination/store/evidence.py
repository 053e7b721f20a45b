"""IQ evidence orders: which capture was ordered from which sensor for which alert, and where the
completed SigMF recording is (the recordings themselves live under ``<data>/evidence``)."""

from __future__ import annotations

from typing import Any

from coordination.store.unit import UnitOfWork


class EvidenceOrders:
    """Capture orders and their completion (table ``evidence``)."""

    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit
        self.db = unit.db

    def order(self, capture_id: str, alert_id: str, sensor_id: str, now_iso: str) -> None:
        self.unit.begin()
        self.db.execute("INSERT INTO evidence VALUES (?, ?, ?, ?, 'ordered', NULL) ON CONFLICT DO NOTHING",
                        (capture_id, alert_id, sensor_id, now_iso))

    def order_of(self, capture_id: str) -> tuple[str, str, str] | None:
        """(alert_id, sensor_id, status) of an ordered capture."""
        row = self.db.fetchone("SELECT alert_id, sensor_id, status FROM evidence WHERE capture_id=?", (capture_id,))
        return (row[0], row[1], row[2]) if row else None

    def complete(self, capture_id: str, path: str) -> None:
        self.unit.begin()
        self.db.execute("UPDATE evidence SET status='complete', path=? WHERE capture_id=?", (path, capture_id))

    def for_alert(self, alert_id: str) -> list[dict[str, Any]]:
        rows = self.db.fetchall("SELECT capture_id, sensor_id, status, path FROM evidence WHERE alert_id=? "
                                "ORDER BY ordered_utc", (alert_id,))
        return [{"capture_id": r[0], "sensor_id": r[1], "status": r[2], "path": r[3]} for r in rows]
