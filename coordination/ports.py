"""Interfaces the server's parts use to talk to collaborators they do not own.

The rules engine (:class:`coordination.engine.RulesEngine`) is one implementation of
:class:`AlertEngine`; tests give the server scripted stand-ins with the same methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from coordination.alerts import Alert, AlertEvent, Position
from coordination.sensors import SensorInfo, SweepCoverage

#: The server's clock: timezone-aware UTC now.
Clock = Callable[[], datetime]
#: Persist and publish alert events (the outbox's entry point, given to the parts that make events).
HandleEvents = Callable[[Sequence[AlertEvent]], None]
#: Publish an alert document written elsewhere on the given topics.
PublishAlert = Callable[[dict[str, Any], Sequence[str]], None]


class AlertEngine(Protocol):
    """What the server asks of a rules engine: observations in, alert events out."""

    def observe(self, sensor: SensorInfo, t: datetime, emissions: Sequence[Mapping[str, float | str]],
                noise_floor_dbm: float, antenna_factor_db_m: float | None = None,
                coverage: SweepCoverage | None = None, judge: bool = True) -> list[AlertEvent]: ...

    def judge(self, now: datetime) -> list[AlertEvent]: ...

    def tick(self, now: datetime) -> list[AlertEvent]: ...

    def acknowledge(self, alert_id: str, by: str, note: str | None = None) -> AlertEvent: ...

    def resolve(self, alert_id: str, by: str, note: str | None = None) -> AlertEvent: ...

    def add_evidence(self, alert_id: str, ref: str) -> AlertEvent: ...

    def add_position_fix(self, alert_id: str, position: Position, t: datetime | None = None) -> list[AlertEvent]: ...

    def identity_checks(self) -> list[dict[str, Any]]: ...

    def open_alerts(self) -> list[Alert]: ...
