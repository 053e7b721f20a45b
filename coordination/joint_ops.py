"""The API operations of joint enforcement between provinces: tasking requests and joint campaigns.

``tasking_request`` (a province asks another's sensor for a measurement or an IQ/TDOA snapshot),
``tasking_decide`` (the owner's operator grants or refuses one the policy queued),
``tasking_requests`` (the requests, with the audit); ``campaign_add`` and ``campaigns``.

A granted request is carried out through the :class:`SensorOrders` port: a snapshot becomes a
``capture_iq`` order to the sensor (its SigMF recording lands in the server's evidence folder
under the order id), a measurement is answered with the sensor's latest spectrum of the named
profile; the result reference goes back to the requester with the request (and into the audit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from coordination.api import ApiError
from coordination.campaigns import Campaign, CampaignError, CampaignRunner
from coordination.cases import parse_time
from coordination.protocol import MonitoringProfile, ProtocolError
from coordination.tasking import TaskingDesk, TaskingError, TaskingRequest

Handler = Callable[[Mapping[str, Any]], tuple[Any, tuple[np.ndarray, ...]]]


class SensorOrders(Protocol):
    def capture(self, request: TaskingRequest) -> str:
        """Order the IQ capture a granted snapshot request asks for; returns the capture (order) id."""

    def latest_measurement(self, request: TaskingRequest) -> str:
        """A reference to the sensor's latest spectrum for a granted measurement request."""


def _s(args: Mapping[str, Any], name: str, max_len: int = 128) -> str:
    v = args.get(name)
    if not isinstance(v, str) or not v.strip() or len(v) > max_len:
        raise ApiError(f"argument {name!r} must be non-empty text of at most {max_len} characters")
    return v


def _acting_province(args: Mapping[str, Any]) -> str | None:
    provs = args.get("as_provinces")
    if provs is None:
        return None
    if not isinstance(provs, list) or len(provs) != 1 or not isinstance(provs[0], str):
        raise ApiError("argument 'as_provinces' must name the one province the request is made for")
    return provs[0]


class JointOps:
    """Tasking and campaign handlers; ``ops`` maps op names to them."""

    def __init__(self, tasking: TaskingDesk, campaigns: CampaignRunner, orders: SensorOrders,
                 profiles: Callable[[], tuple[MonitoringProfile, ...]], clock: Callable[[], datetime]) -> None:
        self.tasking = tasking
        self.campaigns = campaigns
        self.orders = orders
        self.profiles = profiles
        self.clock = clock
        self.ops: dict[str, Handler] = {
            "tasking_request": self.request, "tasking_decide": self.decide, "tasking_requests": self.requests,
            "campaign_add": self.campaign_add, "campaigns": self.campaign_list,
        }

    # ------------------------------------------------------------ tasking

    def _carry_out(self, req: TaskingRequest) -> TaskingRequest:
        if req.state != "granted":
            return req
        ref = (self.orders.capture(req) if req.kind in ("iq_snapshot", "tdoa_snapshot")
               else self.orders.latest_measurement(req))
        return self.tasking.complete(req.id, ref, self.clock())

    def request(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        by = _s(args, "by")
        from_province = _acting_province(args) or args.get("from_province")
        if not isinstance(from_province, str):
            raise ApiError("give the requesting province (as_provinces, or from_province for an operator)")
        params = args.get("params") or {}
        if not isinstance(params, dict) or not all(
                isinstance(v, (int, float, str)) and not isinstance(v, bool) and
                (not isinstance(v, float) or math.isfinite(v)) for v in params.values()):
            raise ApiError("argument 'params' must be an object of numbers and strings")
        try:
            req = self.tasking.request(from_province, _s(args, "sensor_id", 64), _s(args, "kind", 32), params,
                                       _s(args, "reason", 2000), by, self.clock())
            return self._carry_out(req).to_json(), ()
        except TaskingError as exc:
            raise ApiError(str(exc)) from exc

    def decide(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        grant = args.get("grant")
        if not isinstance(grant, bool):
            raise ApiError("argument 'grant' must be true or false")
        reason = args.get("reason") or ""
        if not isinstance(reason, str) or len(reason) > 2000:
            raise ApiError("argument 'reason' must be text of at most 2000 characters")
        try:
            req = self.tasking.decide(_s(args, "id", 64), grant, _s(args, "by"), _acting_province(args),
                                      self.clock(), reason)
            return self._carry_out(req).to_json(), ()
        except TaskingError as exc:
            raise ApiError(str(exc)) from exc

    def requests(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        mine = _acting_province(args)
        out = [r.to_json() for r in self.tasking.requests.values()
               if mine is None or mine in (r.owner, r.from_province)]
        return out, ()

    # ------------------------------------------------------------ campaigns

    def campaign_add(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        """Plan a campaign; ``profiles`` names profiles the server serves, or gives them in full."""
        known = {p.name: p for p in self.profiles()}
        raw = args.get("profiles")
        if not isinstance(raw, list) or not raw:
            raise ApiError("argument 'profiles' must be a non-empty list of profile names or profile objects")
        profiles = []
        for p in raw:
            if isinstance(p, str):
                if p not in known:
                    raise ApiError(f"profile {p!r} is not one the server serves (known: {sorted(known)})")
                profiles.append(known[p])
            elif isinstance(p, dict):
                try:  # the procedure's settings not given take the protocol's defaults
                    base = MonitoringProfile("x", 1e8, 1.1e8, 1e3).to_dict()
                    profiles.append(MonitoringProfile.from_dict(base | p))
                except (ValueError, TypeError, ProtocolError) as exc:
                    raise ApiError(f"profile {p.get('name')!r}: {exc}") from exc
            else:
                raise ApiError("each profile is a name or an object")
        sensors = args.get("sensors")
        provinces = args.get("provinces")
        if not isinstance(sensors, list) or not all(isinstance(s, str) for s in sensors):
            raise ApiError("argument 'sensors' must be a list of sensor ids")
        if not isinstance(provinces, list) or not all(isinstance(s, str) for s in provinces):
            raise ApiError("argument 'provinces' must be a list of province codes")
        try:
            c = Campaign(_s(args, "id", 64), _s(args, "lead", 8), tuple(provinces), tuple(sensors), tuple(profiles),
                         parse_time(args.get("start"), "start"), parse_time(args.get("end"), "end"),
                         str(args.get("title") or ""))
            self.campaigns.add(c)
        except (CampaignError, ValueError) as exc:
            raise ApiError(str(exc)) from exc
        return self._campaign_json(c), ()

    def campaign_list(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        return [self._campaign_json(c) for c in self.campaigns.campaigns.values()], ()

    def _campaign_json(self, c: Campaign) -> dict[str, Any]:
        return {"id": c.id, "title": c.title, "lead": c.lead, "provinces": list(c.provinces),
                "sensors": list(c.sensors), "profiles": [p.name for p in c.profiles], "start": c.start.isoformat(),
                "end": c.end.isoformat(), "state": self.campaigns.state[c.id],
                "report": self.campaigns.reports.get(c.id)}
