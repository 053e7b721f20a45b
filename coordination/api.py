"""The API socket's operations (docs/protocol.md) and their dispatch (the client: coordination/client.py).

A Request names an ``op`` and carries JSON ``args``; the reply is ``Reply(ok, result, error,
arrays)`` with the request's ``seq`` echoed so a client can match answers. Handlers run in the
server loop thread, read from the parts they are given (store, archive, sensor registry, alert
outbox), and raise :class:`ApiError` for a caller's mistake (unknown id, bad argument): that becomes
``ok=False`` with the message, never a crash. Unexpected exceptions are counted as internal errors
and answered ``ok=False`` too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from coordination.archive_reader import SpectrumArchiveReader
from coordination.client import ApiError
from coordination.counters import Faults
from coordination.ingest import RejectionCounter, Validator, peer_label
from coordination.outbox import AlertOutbox
from coordination.outlets import Replies
from coordination.ports import AlertEngine
from coordination.protocol import (
    MAX_HEADER_BYTES,
    Reply,
    Request,
    Spectrum,
    format_epoch_utc,
    format_utc,
    utc_now_iso,
)
from coordination.registry import SensorRegistry
from coordination.store import Store
from station_db.repository import StationRepository

log = logging.getLogger(__name__)

ALERT_STATES = ("open", "acknowledged", "resolved", "all")
MAX_WATERFALL_ROWS = 1000
#: JSON results travel in the reply header, which the protocol caps at MAX_HEADER_BYTES.
MAX_REPLY_HEADER_BYTES = MAX_HEADER_BYTES - 1024


def _header_bytes(reply: Reply) -> int:
    return len(reply.to_frames()[1]) if not reply.arrays else len(
        json.dumps({"result": reply.result}, separators=(",", ":"), allow_nan=False))


def fit_reply(reply: Reply, limit: int = MAX_REPLY_HEADER_BYTES) -> Reply:
    """Keep a reply's JSON header within the protocol's header limit.

    A list result is cut to the items that fit (the first ones), a dict with a ``rows`` list keeps
    its latest rows; ``error`` then says what was left out and how to ask for the rest, while ``ok``
    stays True. Anything else too large becomes an error reply.
    """
    if _header_bytes(reply) <= limit:
        return reply
    result = reply.result
    items = result if isinstance(result, list) else result.get("rows") if isinstance(result, dict) else None
    if not isinstance(items, list):
        return dataclasses.replace(reply, ok=False, result=None, arrays=(),
                                   error="result too large for one reply; narrow the request")
    total = len(items)

    def cut(n: int) -> Reply:
        if isinstance(result, list):
            return dataclasses.replace(reply, result=items[:n], error=(
                f"truncated: {n} of {total} items; ask again with offset (+{n}) or a narrower filter"))
        return dataclasses.replace(reply, result=dict(result, rows=items[total - n:]), error=(
            f"truncated: latest {n} of {total} rows; ask for fewer (n) rows"))

    lo, hi = 0, total  # largest n that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _header_bytes(cut(mid)) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return cut(lo)


def error_reply(req: Request, text: str) -> Reply:
    return Reply("server", req.seq, utc_now_iso(), ok=False, result=None, error=text[:4000])


def _arg_str(args: Mapping[str, Any], name: str, required: bool = True, max_len: int = 128) -> str | None:
    v = args.get(name)
    if v is None:
        if required:
            raise ApiError(f"missing argument {name!r}")
        return None
    if not isinstance(v, str) or not v or len(v) > max_len:
        raise ApiError(f"argument {name!r} must be a non-empty string of at most {max_len} characters")
    return v


def _arg_num(args: Mapping[str, Any], name: str) -> float | None:
    v = args.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ApiError(f"argument {name!r} must be a finite number")
    return float(v)


def team_scope(args: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The provinces a team's request is limited to (``as_provinces``), None for an operator of the centre.

    The case and coordination-request ops check every team action against it.
    """
    provs = args.get("as_provinces")
    if provs is None:
        return None
    if not isinstance(provs, list) or not provs or not all(isinstance(p, str) for p in provs):
        raise ApiError("argument 'as_provinces' must be a non-empty list of province codes")
    return tuple(provs)


def _arg_int(args: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    v = args.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ApiError(f"argument {name!r} must be an integer in [{lo}, {hi}]")
    return v


class Api:
    """Dispatches API requests to handlers that read the server's parts (registry, store, archive...).

    Runs in the server loop thread: :meth:`handle_batch` validates the drained requests, answers each
    on the API socket; :meth:`handle` turns one request into a reply.
    """

    def __init__(self, *, store: Store, registry: SensorRegistry, outbox: AlertOutbox, spectra: SpectrumArchiveReader,
                 latest_spectra: Mapping[tuple[str, str], Spectrum], stations: StationRepository | None,
                 engine: AlertEngine | None, rejections: RejectionCounter, validator: Validator,
                 replies: Replies, faults: Faults, clock: Callable[[], datetime],
                 counters_snapshot: Callable[[], dict[str, Any]],
                 extra_ops: Mapping[str, Callable[[Mapping[str, Any]], tuple[Any, tuple[np.ndarray, ...]]]]
                 | None = None) -> None:
        """``extra_ops``: further operations served by other parts (the case desk's ``cases``, ``case_act`` ...)."""
        self.store = store
        self.registry = registry
        self.outbox = outbox
        self.spectra = spectra
        self.latest_spectra = latest_spectra
        self.stations_repo = stations
        self.engine = engine
        self.rejections = rejections
        self.validator = validator
        self.replies = replies
        self.faults = faults
        self.clock = clock
        self.counters_snapshot = counters_snapshot
        self.ops: dict[str, Callable[[Mapping[str, Any]], tuple[Any, tuple[np.ndarray, ...]]]] = {
            "ping": self.ping, "sensors": self.sensors, "alerts": self.alerts, "alert": self.alert,
            "ack": self.ack, "resolve": self.resolve, "spectrum": self.spectrum, "waterfall": self.waterfall,
            "occupancy": self.occupancy, "stations": self.stations, "counters": self.counters,
            "profiles": self.profiles,
        }
        for name, handler in (extra_ops or {}).items():
            if name in self.ops:
                raise ValueError(f"API op {name!r} is served twice")
            self.ops[name] = handler

    def handle_batch(self, raws: Sequence[Sequence[bytes]]) -> None:
        """Validate and answer one drained batch of raw requests from the API ROUTER."""
        for raw in raws:
            try:
                ib = self.validator.validate(raw)
            except Exception:
                self.faults.internal("api_validate")
                continue
            if ib is None:
                continue
            req = ib.msg
            assert isinstance(req, Request)
            reply = self.handle(req)
            try:
                frames = reply.to_frames()
            except (TypeError, ValueError):  # a result that is not JSON: still answer
                self.faults.internal("api_encode")
                frames = error_reply(req, "internal error: result not serialisable").to_frames()
            if not self.replies.send(ib.envelope, frames):
                log.debug("reply to %s not sent", peer_label(ib.identity))

    def handle(self, req: Request) -> Reply:
        fn = self.ops.get(req.op)
        if fn is None:
            return error_reply(req, f"unknown op {req.op!r} (known: {sorted(self.ops)})")
        try:
            result, arrays = fn(req.args)
        except ApiError as exc:
            return error_reply(req, str(exc))
        except Exception:
            self.faults.internal(f"api_{req.op}")
            self.store.rollback()
            return error_reply(req, f"internal error while handling {req.op!r} (logged on the server)")
        return fit_reply(Reply("server", req.seq, format_utc(self.clock()), ok=True, result=result, error=None,
                               arrays=tuple(arrays)))

    # ------------------------------------------------------------ ops

    def ping(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        return {"pong": True, "t_utc": format_utc(self.clock()), "sensors": len(self.registry),
                "engine": type(self.engine).__name__ if self.engine is not None else None}, ()

    def sensors(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        now = self.clock()
        out = []
        for st in sorted(self.registry, key=lambda st: st.record.sensor_id):
            r = st.record
            h = st.health
            out.append({"sensor_id": r.sensor_id, "province": r.province, "lat": r.lat, "lon": r.lon,
                        "height_m": r.height_m, "antenna_factor_db_m": r.antenna_factor_db_m,
                        "software": r.software, "capabilities": list(r.capabilities),
                        "status": self.registry.status(st, now),
                        "last_seen": format_utc(st.last_seen) if st.last_seen else None,
                        "last_profile": st.last_profile,
                        "spool_depth": h.get("spool_depth"),
                        "drops": h.get("dropped_samples", h.get("drops")),
                        "rejected": self.rejections.total(r.sensor_id)})
        return out, ()

    def alerts(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        state = _arg_str(args, "state", required=False) or "all"
        if state not in ALERT_STATES:
            raise ApiError(f"state {state!r} not one of {ALERT_STATES}")
        province = _arg_str(args, "province", required=False, max_len=8)
        limit = _arg_int(args, "limit", 1000, 1, 10_000)
        offset = _arg_int(args, "offset", 0, 0, 10**9)
        docs = self.store.alerts.list_alert_json(None if state == "all" else [state], province, limit + offset)[offset:]
        return [self.outbox.decorate(d) for d in docs], ()

    def alert(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        alert_id = _arg_str(args, "id")
        assert alert_id is not None
        doc = self.store.alerts.alert_json(alert_id)
        if doc is None:
            raise ApiError(f"no alert with id {alert_id!r}")
        doc = self.outbox.decorate(doc)
        doc["evidence_captures"] = self.store.evidence.for_alert(alert_id)
        return doc, ()

    def _transition(self, args: Mapping[str, Any], action: str) -> tuple[Any, tuple[np.ndarray, ...]]:
        alert_id = _arg_str(args, "id")
        by = _arg_str(args, "by", max_len=128)
        note = _arg_str(args, "note", required=False, max_len=2000)
        assert alert_id is not None and by is not None
        if self.engine is None:
            raise ApiError("the rules engine is not running on this server")
        if self.store.alerts.alert_json(alert_id) is None:
            raise ApiError(f"no alert with id {alert_id!r}")
        try:
            if action == "acknowledge":
                ev = self.engine.acknowledge(alert_id, by, note)
            else:
                ev = self.engine.resolve(alert_id, by, note)
        except (KeyError, ValueError) as exc:
            raise ApiError(f"{action} {alert_id}: {exc}") from exc
        self.outbox.handle_events([ev])
        return self.outbox.decorate(ev.to_json()), ()

    def ack(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        return self._transition(args, "acknowledge")

    def resolve(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        return self._transition(args, "resolve")

    def _profile_arg(self, args: Mapping[str, Any], sensor_id: str) -> str:
        profile = _arg_str(args, "profile", required=False, max_len=64)
        if profile is None:
            st = self.registry.get(sensor_id)
            profile = st.last_profile if st else None
        if profile is None:
            raise ApiError(f"no spectrum known from sensor {sensor_id!r} (give 'profile')")
        return profile

    def spectrum(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        sid = _arg_str(args, "sensor_id", max_len=64)
        assert sid is not None
        if sid not in self.registry:
            raise ApiError(f"unknown sensor {sid!r}")
        profile = self._profile_arg(args, sid)
        m = self.latest_spectra.get((sid, profile))
        if m is not None:
            return {"sensor_id": sid, "profile": profile, "t_utc": m.t_utc, "seq": m.seq,
                    "f_start_hz": m.f_start_hz, "f_step_hz": m.f_step_hz, "noise_floor_dbm": m.noise_floor_dbm,
                    "threshold_dbm": m.threshold_dbm, "detector": m.detector}, (m.power_dbm,)
        got = self.spectra.last_rows(sid, profile, 1)
        if got is None or got.power_dbm.shape[0] == 0:
            raise ApiError(f"no spectrum of profile {profile!r} from sensor {sid!r}")
        return {"sensor_id": sid, "profile": profile, "t_utc": format_epoch_utc(got.t_utc_s[-1]),
                "f_start_hz": got.info.f_start_hz, "f_step_hz": got.info.f_step_hz,
                "noise_floor_dbm": None, "threshold_dbm": None, "detector": got.info.detector}, (got.power_dbm[-1],)

    def waterfall(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        sid = _arg_str(args, "sensor_id", max_len=64)
        assert sid is not None
        if sid not in self.registry:
            raise ApiError(f"unknown sensor {sid!r}")
        profile = self._profile_arg(args, sid)
        n = _arg_int(args, "n", 100, 1, MAX_WATERFALL_ROWS)
        got = self.spectra.last_rows(sid, profile, n)
        if got is None:
            raise ApiError(f"no spectra of profile {profile!r} from sensor {sid!r}")
        power = got.power_dbm
        return {"sensor_id": sid, "profile": profile, "shape": [int(power.shape[0]), int(power.shape[1])],
                "t_utc": [format_epoch_utc(x) for x in got.t_utc_s], "f_start_hz": got.info.f_start_hz,
                "f_step_hz": got.info.f_step_hz, "detector": got.info.detector}, \
            (np.ascontiguousarray(power, np.float32).ravel(),)

    def occupancy(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        sid = _arg_str(args, "sensor_id", max_len=64)
        profile = _arg_str(args, "profile", max_len=64)
        n = _arg_int(args, "n", 100, 1, 10_000)
        assert sid is not None and profile is not None
        centers, rows = self.store.summaries.occupancy(sid, profile, n)
        return {"sensor_id": sid, "profile": profile, "channel_centers_hz": centers.tolist(), "rows": rows}, ()

    def stations(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        repo = self.stations_repo
        if repo is None:
            raise ApiError("no station database on this server")
        f_lo, f_hi = _arg_num(args, "f_lo_hz"), _arg_num(args, "f_hi_hz")
        province = _arg_str(args, "province", required=False, max_len=8)
        service = _arg_str(args, "service", required=False, max_len=32)
        limit = _arg_int(args, "limit", 5000, 1, 100_000)
        offset = _arg_int(args, "offset", 0, 0, 10**9)
        if f_lo is not None and f_hi is not None:
            if f_hi < f_lo:
                raise ApiError("f_hi_hz must not be below f_lo_hz")
            found = repo.query(freq_hz=(f_lo + f_hi) / 2, bandwidth_hz=f_hi - f_lo, province=province,
                               service=service)
        elif f_lo is not None or f_hi is not None:
            f = f_lo if f_lo is not None else f_hi
            found = repo.query(freq_hz=f, bandwidth_hz=0.0, province=province, service=service)
        else:
            found = repo.query(province=province, service=service)
        return [st.to_dict() for st in found[offset:offset + limit]], ()

    def counters(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        return self.counters_snapshot(), ()

    def profiles(self, args: Mapping[str, Any]) -> tuple[Any, tuple[np.ndarray, ...]]:
        return [p.to_dict() for p in self.registry.profiles], ()
