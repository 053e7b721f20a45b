"""The API operations on coordination requests: ``coord_requests``, ``coord_request``, ``coord_submit``,
``coord_respond``, ``coord_withdraw`` (docs/protocol.md).

One handler class over a :class:`~coordination.coordination_requests.CoordinationDesk` and the clock,
so the server and a stand-in test server run the same code. Every changing op takes ``by`` (who acts)
and, for a client acting for a team, ``as_provinces`` (the team's provinces; absent = an operator of
the centre): a team may submit and withdraw only its provinces' stations, answer only for its
provinces, and see only the requests its provinces own or are asked in. The server's key policy
checks ``as_provinces`` against a province-limited key, as for the case ops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import numpy as np

from coordination.api import ApiError, team_scope
from coordination.border_field import BorderFieldError
from coordination.coordination_requests import (
    DECISIONS,
    REQUEST_KINDS,
    STATES,
    CoordinationDesk,
    CoordinationRequest,
    RequestError,
)
from station_db.exchange import StationFileError, parse_stations

Handler = Callable[[Mapping[str, Any]], tuple[Any, tuple[np.ndarray, ...]]]


def _s(args: Mapping[str, Any], name: str, max_len: int = 128, required: bool = True) -> str | None:
    v = args.get(name)
    if v is None:
        if required:
            raise ApiError(f"missing argument {name!r}")
        return None
    if not isinstance(v, str) or not v.strip() or len(v) > max_len:
        raise ApiError(f"argument {name!r} must be non-empty text of at most {max_len} characters")
    return v.strip()


def _involves(req: CoordinationRequest, provinces: tuple[str, ...]) -> bool:
    return req.province in provinces or bool(set(req.asked) & set(provinces))


class CoordOps:
    """``ops``: the API operations, by name, for the server's dispatch."""

    def __init__(self, desk: CoordinationDesk, clock: Callable[[], datetime]) -> None:
        self.desk = desk
        self.clock = clock
        self.ops: dict[str, Handler] = {
            "coord_requests": self.requests, "coord_request": self.request, "coord_submit": self.submit,
            "coord_respond": self.respond, "coord_withdraw": self.withdraw,
        }

    def _get(self, args: Mapping[str, Any]) -> CoordinationRequest:
        rid = _s(args, "id", 64)
        assert rid is not None
        try:
            req = self.desk.get(rid)
        except RequestError as exc:
            raise ApiError(str(exc)) from None
        scope = team_scope(args)
        if scope is not None and not _involves(req, scope):
            raise ApiError(f"no coordination request {rid!r}")  # a team does not learn of others' requests
        return req

    def requests(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        state = _s(args, "state", 16, required=False) or "all"
        if state not in (*STATES, "all"):
            raise ApiError(f"state {state!r} not one of {', '.join((*STATES, 'all'))}")
        waiting_for = _s(args, "waiting_for", 8, required=False)
        province = _s(args, "province", 8, required=False)
        scope = team_scope(args)
        found = self.desk.find(province=province, waiting_for=waiting_for, state=None if state == "all" else state)
        return [r.summary() for r in found if scope is None or _involves(r, scope)], ()

    def request(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        """One request with its inputs and audit log. ``profiles``: the border plots travel as float64
        array frames (too long for the JSON header): per neighbour, ``arrays`` names the indexes of its
        position along the border (km) and field (dBuV/m)."""
        req = self._get(args)
        doc = req.summary()
        doc["inputs"] = dict(req.computation.inputs)
        doc["audit"] = [e.to_dict() for e in self.desk.audit(req.id)]
        arrays: list[np.ndarray] = []
        if args.get("profiles"):
            doc["profiles"] = []
            for p in req.computation.profiles:
                doc["profiles"].append({"neighbour": p.neighbour, "limit_dbuv_m": p.limit_dbuv_m,
                                        "arrays": [len(arrays), len(arrays) + 1]})
                arrays += [np.asarray(p.along_km, dtype=np.float64), np.asarray(p.field_dbuv_m, dtype=np.float64)]
        return doc, tuple(arrays)

    def submit(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        by = _s(args, "by")
        kind = _s(args, "kind", 16, required=False) or "new"
        if kind not in REQUEST_KINDS:
            raise ApiError(f"kind {kind!r} not one of {', '.join(REQUEST_KINDS)}")
        record = args.get("station")
        if not isinstance(record, dict):
            raise ApiError("argument 'station' must be one station record of the exchange format (an object)")
        try:
            [station] = parse_stations("[" + _json(record) + "]", "station", "json")
        except StationFileError as exc:
            raise ApiError("station: " + "; ".join(f"{e.field}: {e.message}" for e in exc.errors)) from None
        except ValueError:
            raise ApiError("argument 'station' must hold exactly one station") from None
        scope = team_scope(args)
        if scope is not None and station.province not in scope:
            raise ApiError(f"a team of {','.join(scope)} cannot submit a {station.province} station")
        assert by is not None
        try:
            req = self.desk.submit(station, by=by, now=self.clock(), kind=kind,
                                   note=_s(args, "note", 2000, required=False) or "")
        except (RequestError, BorderFieldError) as exc:
            raise ApiError(str(exc)) from None
        return req.summary(), ()

    def respond(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        by, province = _s(args, "by"), _s(args, "province", 8)
        decision = _s(args, "decision", 16)
        assert by is not None and province is not None and decision is not None
        if decision not in DECISIONS:
            raise ApiError(f"decision {decision!r} not one of {', '.join(DECISIONS)}")
        field = args.get("agreed_field_dbuv_m")
        if field is not None and (isinstance(field, bool) or not isinstance(field, int | float)
                                  or not math.isfinite(field)):
            raise ApiError("argument 'agreed_field_dbuv_m' must be a finite number (dBuV/m)")
        scope = team_scope(args)
        if scope is not None and province not in scope:
            raise ApiError(f"a team of {','.join(scope)} cannot answer for {province}")
        req = self._get(args)
        try:
            new = self.desk.respond(req.id, province, decision, by=by, now=self.clock(),
                                    agreed_field_dbuv_m=None if field is None else float(field),
                                    reason=_s(args, "reason", 2000, required=False) or "")
        except RequestError as exc:
            raise ApiError(str(exc)) from None
        return new.summary(), ()

    def withdraw(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        by = _s(args, "by")
        assert by is not None
        req = self._get(args)
        scope = team_scope(args)
        if scope is not None and req.province not in scope:
            raise ApiError(f"a team of {','.join(scope)} cannot withdraw a {req.province} request")
        try:
            new = self.desk.withdraw(req.id, req.province, by=by, now=self.clock(),
                                     reason=_s(args, "reason", 2000, required=False) or "")
        except RequestError as exc:
            raise ApiError(str(exc)) from None
        return new.summary(), ()


def _json(record: Mapping[str, Any]) -> str:
    import json

    return json.dumps(record, allow_nan=False)
