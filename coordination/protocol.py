"""The borderwatch wire protocol (DESIGN.md section 3), shared by sensors, server and console.

A message is a ZeroMQ multipart ``[type, header, payload...]``: ``type`` a short ASCII tag,
``header`` UTF-8 JSON carrying ``v``, ``sensor_id``, ``seq``, ``t_utc`` and the type's fields, and
arrays as raw little-endian payload frames described by the header. Never Python object serialisation.

Every message is a frozen dataclass with ``to_frames()`` and ``from_frames()``. ``from_frames``
treats its input as hostile: it checks frame count, sizes, JSON, version, each field's type and
range, array dtype and shape, and raises :class:`ProtocolError` whose ``reason`` is a short stable
code the server counts rejections by. The rest of the code never touches raw JSON dicts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import numpy as np

PROTOCOL_VERSION = 1

#: Largest header we parse; anything bigger is dropped before json.loads sees it.
MAX_HEADER_BYTES = 64 * 1024
#: Largest spectrum (bins) and occupancy (channels) a message may carry.
MAX_SPECTRUM_BINS = 1 << 20
MAX_CHANNELS = 1 << 16
MAX_EMISSIONS = 4096
#: Largest IQ evidence chunk.
MAX_EVIDENCE_CHUNK_BYTES = 4 * 1024 * 1024
MAX_REQUEST_BYTES = 1 << 20

_SENSOR_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
#: A spool incarnation id (sdr.spool): lower-case hex, 64 bits in practice.
_EPOCH_RE = re.compile(r"^[0-9a-f]{1,32}$")
_ALLOWED_DTYPES = {"<f4": np.float32, "<f8": np.float64, "<u2": np.uint16, "<i4": np.int32}


#: Separates the sensor id from a per-connection nonce in a sensor's ZeroMQ identity
#: (``JS-KUNSHAN~9f3c...``). Sensor ids never contain it (``_SENSOR_ID_RE``).
IDENTITY_SEP = b"~"


def connection_identity(sensor_id: str, nonce: str = "") -> bytes:
    """The ZeroMQ routing identity a sensor connects with: its id, plus ``~nonce`` when given.

    Why a nonce: the server's ROUTER refuses a second connection under an identity it already
    holds (no handover), so a sensor that reconnects under a fresh identity is never locked out by
    its own half-open old connection, and nobody else can guess the identity to squat on it.
    """
    return sensor_id.encode() + (IDENTITY_SEP + nonce.encode() if nonce else b"")


def identity_sensor(identity: bytes) -> bytes:
    """The sensor id part of a connection identity (see :func:`connection_identity`)."""
    return identity.split(IDENTITY_SEP, 1)[0]


class ProtocolError(ValueError):
    """A message that does not follow the protocol. ``reason`` is a short code for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------- time helpers


def utc_now_iso() -> str:
    """Current UTC time as ISO-8601 with microseconds (the protocol's time format)."""
    return format_utc(datetime.now(UTC))


def format_utc(t: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    The one UTC text format of the wire, the stores, the alerts and the exports (fixed width, so the
    text sorts like the time). A naive datetime raises ValueError: its zone is unknown, and taking it
    as local time would shift it silently.
    """
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: UTC text needs a timezone-aware time")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_epoch_utc(t_s: float) -> str:
    """Seconds since the epoch (the archive's and the log records' clock) as :func:`format_utc` text."""
    return format_utc(datetime.fromtimestamp(float(t_s), UTC))


def utc_from_text(text: Any, name: str) -> datetime:
    """ISO-8601 text with a timezone (``Z`` or an offset) -> aware UTC datetime; ValueError naming ``name``.

    The one reader of time text behind :func:`parse_utc` (the wire), the alerts and the cases, each of
    which re-raises the ValueError as its own error. A time without a zone is refused, never guessed.
    """
    if not isinstance(text, str):
        raise ValueError(f"{name} must be an ISO-8601 string, got {type(text).__name__}")
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{name}={text[:64]!r} is not ISO-8601") from exc
    if t.tzinfo is None:
        raise ValueError(f"{name}={text[:64]!r} has no timezone")
    return t.astimezone(UTC)


def parse_utc(text: str, name: str = "t_utc") -> datetime:
    """Parse an ISO-8601 UTC timestamp; raise ProtocolError naming the field otherwise."""
    if not isinstance(text, str) or len(text) > 40:
        raise ProtocolError("field", f"{name} must be an ISO-8601 string")
    try:
        return utc_from_text(text, name)
    except ValueError as exc:
        raise ProtocolError("field", str(exc)) from exc


def parse_wire_utc(text: str, name: str = "t_utc") -> datetime:
    """Parse a timestamp received on the wire: ISO-8601 *in UTC* (``Z`` or ``+00:00``).

    A time with another offset (``+14:00``) is a valid instant, but the protocol says UTC: a peer
    that sends local time has a misconfigured clock or is probing, and its text would be stored as
    written. Refused with reason ``time``.
    """
    t = parse_utc(text, name)
    if datetime.fromisoformat(text.replace("Z", "+00:00")).utcoffset() != timedelta(0):
        raise ProtocolError("time", f"{name}={text!r} is not in UTC (end it with 'Z')")
    return t


def check_time_window(t: datetime, now: datetime, max_past_s: float, max_future_s: float,
                      name: str = "t_utc") -> None:
    """Refuse (reason ``time``) a timestamp more than ``max_past_s`` before or ``max_future_s`` after ``now``.

    Why on receipt: a sensor's time decides which day file and which alert window a measurement
    lands in; a year 1970 or 2099 stamp would create day files nobody looks at and skew alert
    timing. The past window must cover the longest outage a spool rides out (spooled data is old
    when it finally arrives); the future window covers clock skew.
    """
    dt_s = (t - now).total_seconds()
    if dt_s < -max_past_s or dt_s > max_future_s:
        raise ProtocolError("time", f"{name}={format_utc(t)} is outside the window [-{max_past_s:.0f} s, "
                                    f"+{max_future_s:.0f} s] around server time {format_utc(now)}")


# ---------------------------------------------------------------- field checkers


def _get(h: Mapping[str, Any], name: str) -> Any:
    if name not in h:
        raise ProtocolError("field", f"missing field {name!r}")
    return h[name]


def _num(h: Mapping[str, Any], name: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """The finite number ``h[name]`` within [lo, hi]; ProtocolError naming the field otherwise."""
    v = _get(h, name)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ProtocolError("field", f"{name} must be a finite number, got {v!r}")
    if not lo <= v <= hi:
        raise ProtocolError("field", f"{name}={v} outside [{lo}, {hi}]")
    return float(v)


def _num_or_none(h: Mapping[str, Any], name: str, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    """Like :func:`_num`, but an absent or null field is None (a separate helper keeps ``_num`` typed float)."""
    return None if h.get(name) is None else _num(h, name, lo, hi)


def _int(h: Mapping[str, Any], name: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    v = _get(h, name)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ProtocolError("field", f"{name} must be an integer, got {v!r}")
    if not lo <= v <= hi:
        raise ProtocolError("field", f"{name}={v} outside [{lo}, {hi}]")
    return v


def _str(h: Mapping[str, Any], name: str, max_len: int = 256, pattern: re.Pattern[str] | None = None) -> str:
    """The string ``h[name]``, at most ``max_len`` long, matching ``pattern`` if given; ProtocolError otherwise."""
    v = _get(h, name)
    if not isinstance(v, str) or len(v) > max_len:
        raise ProtocolError("field", f"{name} must be a string of at most {max_len} characters")
    if pattern is not None and not pattern.match(v):
        raise ProtocolError("field", f"{name}={v!r} is not valid")
    return v


def _str_or_none(h: Mapping[str, Any], name: str, max_len: int = 256) -> str | None:
    """Like :func:`_str`, but an absent or null field is None."""
    return None if h.get(name) is None else _str(h, name, max_len)


def _utc(h: Mapping[str, Any], name: str) -> str:
    """An ISO-8601 UTC timestamp field, checked by :func:`parse_wire_utc` (UTC only) and kept as written."""
    text = _str(h, name, 40)
    parse_wire_utc(text, name)
    return text


def _dict(h: Mapping[str, Any], name: str, optional: bool = True) -> dict[str, Any]:
    v = h.get(name)
    if v is None and optional:
        return {}
    if not isinstance(v, dict):
        raise ProtocolError("field", f"{name} must be an object")
    return v


def _array(frame: bytes, h: Mapping[str, Any], prefix: str, max_len: int) -> np.ndarray:
    """Decode one payload frame as a 1-D little-endian array described by the header."""
    dtype_name = _str(h, f"{prefix}dtype", 8)
    if dtype_name not in _ALLOWED_DTYPES:
        raise ProtocolError("dtype", f"{prefix}dtype={dtype_name!r} not one of {sorted(_ALLOWED_DTYPES)}")
    n = _int(h, f"{prefix}len", 0, max_len)
    dtype = np.dtype(dtype_name)
    if len(frame) != n * dtype.itemsize:
        raise ProtocolError("size", f"{prefix}payload has {len(frame)} bytes, header says {n} x {dtype_name}")
    arr = np.frombuffer(frame, dtype=dtype)
    if dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ProtocolError("field", f"{prefix}payload has non-finite values")
    return arr


def _array_header(arr: np.ndarray, prefix: str, dtype: str = "<f4") -> tuple[dict[str, Any], bytes]:
    a = np.ascontiguousarray(arr, dtype=np.dtype(dtype))
    return {f"{prefix}dtype": dtype, f"{prefix}len": int(a.size)}, a.tobytes()


def _common(h: Mapping[str, Any]) -> tuple[str, int, str]:
    return _str(h, "sensor_id", 64, pattern=_SENSOR_ID_RE), _int(h, "seq", 0), _utc(h, "t_utc")


# ---------------------------------------------------------------- monitoring profiles


@dataclass(frozen=True)
class MonitoringProfile:
    """One agreed measurement procedure: the same for every sensor (served by the server)."""

    name: str
    f_start_hz: float
    f_stop_hz: float
    bin_hz: float
    detector: str = "mean"
    window: str = "hann"
    overlap: float = 0.5
    dwell_s: float = 0.1
    revisit_s: float = 1.0
    margin_db: float = 10.0
    channel_raster_hz: float = 12_500.0
    channel_width_hz: float = 12_500.0
    crop: float = 0.25
    occupancy_interval_s: float = 60.0

    DETECTORS: ClassVar[tuple[str, ...]] = ("mean", "peak", "min", "rms")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MonitoringProfile:
        name = _str(d, "name", 64, pattern=_SENSOR_ID_RE)
        f_start = _num(d, "f_start_hz", 1e6, 7e9)
        f_stop = _num(d, "f_stop_hz", 1e6, 7e9)
        if f_stop <= f_start:
            raise ProtocolError("field", f"profile {name}: f_stop_hz must exceed f_start_hz")
        detector = _str(d, "detector", 8)
        if detector not in cls.DETECTORS:
            raise ProtocolError("field", f"profile {name}: detector {detector!r} not in {cls.DETECTORS}")
        return cls(
            name=name,
            f_start_hz=f_start,
            f_stop_hz=f_stop,
            bin_hz=_num(d, "bin_hz", 1.0, 1e7),
            detector=detector,
            window=_str(d, "window", 16),
            overlap=_num(d, "overlap", 0.0, 0.95),
            dwell_s=_num(d, "dwell_s", 1e-4, 3600.0),
            revisit_s=_num(d, "revisit_s", 1e-3, 86400.0),
            margin_db=_num(d, "margin_db", 0.0, 60.0),
            channel_raster_hz=_num(d, "channel_raster_hz", 1.0, 1e8),
            channel_width_hz=_num(d, "channel_width_hz", 1.0, 1e8),
            crop=_num(d, "crop", 0.0, 0.9),
            occupancy_interval_s=_num(d, "occupancy_interval_s", 1.0, 86400.0),
        )


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class Message:
    """Base of every wire message: who sent it, its sequence number and its UTC time."""

    TYPE: ClassVar[bytes] = b""

    sensor_id: str
    seq: int
    t_utc: str

    def _header(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "sensor_id": self.sensor_id, "seq": self.seq, "t_utc": self.t_utc}

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {}, []

    def to_frames(self) -> list[bytes]:
        extra, payload = self._payload()
        header = self._header() | extra
        return [self.TYPE, json.dumps(header, separators=(",", ":"), allow_nan=False).encode(), *payload]

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Message:
        raise NotImplementedError


@dataclass(frozen=True)
class Hello(Message):
    """A sensor introduces itself: where it is and how it is calibrated."""

    TYPE: ClassVar[bytes] = b"hello"

    province: str = ""
    lat: float = 0.0
    lon: float = 0.0
    height_m: float = 10.0
    antenna_factor_db_m: float = 0.0
    software: str = ""
    capabilities: tuple[str, ...] = ()
    #: The sensor's spool incarnation (random, made when the spool file is created): its seqs count
    #: from 0 in each epoch, so the server keys its idempotence ledger by (sensor, epoch, seq) and a
    #: sensor whose spool was lost is seen as new data, not as old duplicates. "" = a sensor that
    #: predates epochs (optional field; older servers ignore it).
    epoch: str = ""

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        head: dict[str, Any] = {"province": self.province, "lat": self.lat, "lon": self.lon,
                                "height_m": self.height_m, "antenna_factor_db_m": self.antenna_factor_db_m,
                                "software": self.software, "capabilities": list(self.capabilities)}
        if self.epoch:
            head["epoch"] = self.epoch
        return head, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Hello:
        caps = h.get("capabilities", [])
        if not isinstance(caps, list) or len(caps) > 32 or not all(isinstance(c, str) and len(c) < 64
                                                                    for c in caps):
            raise ProtocolError("field", "capabilities must be a list of short strings")
        return cls(*_common(h), province=_str(h, "province", 8),
                   lat=_num(h, "lat", -90, 90), lon=_num(h, "lon", -180, 180),
                   height_m=_num(h, "height_m", -100, 2000),
                   antenna_factor_db_m=_num(h, "antenna_factor_db_m", -60, 80),
                   software=_str(h, "software", 128), capabilities=tuple(caps),
                   epoch=_str(h, "epoch", 32, pattern=_EPOCH_RE) if h.get("epoch") is not None else "")


@dataclass(frozen=True)
class Spectrum(Message):
    """One calibrated sweep: dBm per bin at the antenna port, on an exact frequency axis."""

    TYPE: ClassVar[bytes] = b"spectrum"

    profile: str = ""
    f_start_hz: float = 0.0
    f_step_hz: float = 1.0
    power_dbm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    detector: str = "mean"
    segments: int = 1
    noise_floor_dbm: float = -120.0
    threshold_dbm: float = -110.0
    antenna_factor_db_m: float = 0.0

    @property
    def freqs_hz(self) -> np.ndarray:
        return self.f_start_hz + self.f_step_hz * np.arange(self.power_dbm.size)

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        ah, data = _array_header(self.power_dbm, "")
        return {"profile": self.profile, "f_start_hz": self.f_start_hz, "f_step_hz": self.f_step_hz,
                "shape": [int(self.power_dbm.size)], "detector": self.detector, "segments": self.segments,
                "noise_floor_dbm": self.noise_floor_dbm, "threshold_dbm": self.threshold_dbm,
                "antenna_factor_db_m": self.antenna_factor_db_m} | ah, [data]

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Spectrum:
        if len(payload) != 1:
            raise ProtocolError("frames", f"spectrum needs 1 payload frame, got {len(payload)}")
        power = _array(payload[0], h, "", MAX_SPECTRUM_BINS)
        if power.size == 0:
            raise ProtocolError("field", "spectrum has no bins")
        shape = h.get("shape", [power.size])  # optional; when given it must describe the payload
        if (not isinstance(shape, list) or len(shape) != 1 or isinstance(shape[0], bool)
                or shape[0] != power.size):
            raise ProtocolError("shape", f"header shape {str(shape)[:40]} does not match the payload's "
                                         f"{power.size} bins")
        detector = _str(h, "detector", 8)
        if detector not in MonitoringProfile.DETECTORS:
            raise ProtocolError("field", f"detector {detector!r} unknown")
        return cls(*_common(h), profile=_str(h, "profile", 64),
                   f_start_hz=_num(h, "f_start_hz", 0, 1e11),
                   f_step_hz=_num(h, "f_step_hz", 1e-3, 1e9),
                   power_dbm=power.astype(np.float32, copy=False), detector=detector,
                   segments=_int(h, "segments", 1, 10**9),
                   noise_floor_dbm=_num(h, "noise_floor_dbm", -300, 100),
                   threshold_dbm=_num(h, "threshold_dbm", -300, 100),
                   antenna_factor_db_m=_num(h, "antenna_factor_db_m", -60, 80))


EMISSION_FIELDS: tuple[str, ...] = ("center_hz", "peak_hz", "peak_dbm", "power_dbm", "bandwidth_xdb_hz",
                                    "obw_hz", "snr_db", "f_lo_hz", "f_hi_hz")
#: Optional per emission, both or neither: ``emission_class`` (one of these, dsp.classify's vocabulary)
#: and ``class_confidence`` (0..1). Older senders omit them; older receivers ignore unknown keys.
EMISSION_CLASSES: tuple[str, ...] = ("cw", "am", "fm_broadcast", "nfm", "2fsk", "4fsk", "ook_ask",
                                     "wideband_digital", "noise_like", "unknown")


def _emission_out(e: Mapping[str, float | str]) -> dict[str, float | str]:
    out: dict[str, float | str] = {k: float(e[k]) for k in EMISSION_FIELDS}
    if "emission_class" in e:
        out["emission_class"], out["class_confidence"] = str(e["emission_class"]), float(e["class_confidence"])
    return out


def _emission_in(e: Mapping[str, Any]) -> dict[str, float | str]:
    out: dict[str, float | str] = {k: _num(e, k, -1e12, 1e12) for k in EMISSION_FIELDS}
    if e.get("emission_class") is not None or e.get("class_confidence") is not None:
        out["emission_class"] = _str(e, "emission_class", 24)
        if out["emission_class"] not in EMISSION_CLASSES:
            raise ProtocolError("field", f"emission_class {out['emission_class']!r} unknown")
        out["class_confidence"] = _num(e, "class_confidence", 0.0, 1.0)
    return out


@dataclass(frozen=True)
class Emissions(Message):
    """The emissions detected in one sweep (possibly none: that is information too)."""

    TYPE: ClassVar[bytes] = b"emissions"

    profile: str = ""
    spectrum_seq: int | None = None
    noise_floor_dbm: float = -120.0
    antenna_factor_db_m: float = 0.0
    emissions: tuple[Mapping[str, float | str], ...] = ()

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"profile": self.profile, "spectrum_seq": self.spectrum_seq,
                "noise_floor_dbm": self.noise_floor_dbm, "antenna_factor_db_m": self.antenna_factor_db_m,
                "emissions": [_emission_out(e) for e in self.emissions]}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Emissions:
        raw = _get(h, "emissions")
        if not isinstance(raw, list) or len(raw) > MAX_EMISSIONS:
            raise ProtocolError("field", f"emissions must be a list of at most {MAX_EMISSIONS}")
        ems = []
        for i, e in enumerate(raw):
            if not isinstance(e, dict):
                raise ProtocolError("field", f"emissions[{i}] must be an object")
            try:
                ems.append(_emission_in(e))
            except ProtocolError as exc:
                raise ProtocolError("field", f"emissions[{i}]: {exc.detail}") from exc
        sseq = h.get("spectrum_seq")
        if sseq is not None:
            sseq = _int(h, "spectrum_seq", 0)
        return cls(*_common(h), profile=_str(h, "profile", 64), spectrum_seq=sseq,
                   noise_floor_dbm=_num(h, "noise_floor_dbm", -300, 100),
                   antenna_factor_db_m=_num(h, "antenna_factor_db_m", -60, 80),
                   emissions=tuple(ems))


@dataclass(frozen=True)
class Occupancy(Message):
    """ITU-R SM.1880 occupancy over one interval: FCO per channel, FBO of the band."""

    TYPE: ClassVar[bytes] = b"occupancy"

    profile: str = ""
    t_start_utc: str = ""
    t_end_utc: str = ""
    revisits: int = 0
    threshold_dbm: float = -110.0
    fbo: float = 0.0
    channel_centers_hz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fco: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        ch, chd = _array_header(self.channel_centers_hz, "ch_", "<f8")
        fc, fcd = _array_header(self.fco, "fco_")
        return {"profile": self.profile, "t_start_utc": self.t_start_utc, "t_end_utc": self.t_end_utc,
                "revisits": self.revisits, "threshold_dbm": self.threshold_dbm, "fbo": self.fbo} | ch | fc, \
            [chd, fcd]

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Occupancy:
        if len(payload) != 2:
            raise ProtocolError("frames", f"occupancy needs 2 payload frames, got {len(payload)}")
        ch = _array(payload[0], h, "ch_", MAX_CHANNELS)
        fco = _array(payload[1], h, "fco_", MAX_CHANNELS)
        if ch.size != fco.size:
            raise ProtocolError("size", "channel and fco arrays differ in length")
        if fco.size and (fco.min() < 0 or fco.max() > 1):
            raise ProtocolError("field", "fco outside [0, 1]")
        t0, t1 = _utc(h, "t_start_utc"), _utc(h, "t_end_utc")
        return cls(*_common(h), profile=_str(h, "profile", 64), t_start_utc=t0,
                   t_end_utc=t1, revisits=_int(h, "revisits", 0, 10**9),
                   threshold_dbm=_num(h, "threshold_dbm", -300, 100),
                   fbo=_num(h, "fbo", 0, 1), channel_centers_hz=ch.astype(np.float64),
                   fco=fco.astype(np.float32))


@dataclass(frozen=True)
class Heartbeat(Message):
    """Sensor health: sample drops, CPU, spool depth, clock."""

    TYPE: ClassVar[bytes] = b"heartbeat"

    health: Mapping[str, float] = field(default_factory=dict)

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"health": dict(self.health)}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Heartbeat:
        health = _dict(h, "health")
        if len(health) > 64:
            raise ProtocolError("field", "health has too many entries")
        clean = {}
        for k in health:
            if not isinstance(k, str) or len(k) > 64:
                raise ProtocolError("field", "health keys must be short strings")
            clean[k] = _num(health, k, -1e15, 1e15)
        return cls(*_common(h), health=clean)


@dataclass(frozen=True)
class Evidence(Message):
    """One chunk of an IQ evidence capture (SigMF data); the metadata rides on chunk 0."""

    TYPE: ClassVar[bytes] = b"evidence"

    capture_id: str = ""
    chunk_index: int = 0
    chunk_count: int = 1
    meta: Mapping[str, Any] = field(default_factory=dict)
    data: bytes = b""

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        head = {"capture_id": self.capture_id, "chunk_index": self.chunk_index,
                "chunk_count": self.chunk_count, "meta": dict(self.meta), "nbytes": len(self.data)}
        return head, [self.data]

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Evidence:
        if len(payload) != 1:
            raise ProtocolError("frames", "evidence needs 1 payload frame")
        if len(payload[0]) > MAX_EVIDENCE_CHUNK_BYTES or len(payload[0]) != _int(h, "nbytes", 0):
            raise ProtocolError("size", "evidence chunk size wrong or too large")
        count = _int(h, "chunk_count", 1, 100_000)
        return cls(*_common(h), capture_id=_str(h, "capture_id", 64, pattern=_SENSOR_ID_RE),
                   chunk_index=_int(h, "chunk_index", 0, count - 1), chunk_count=count,
                   meta=_dict(h, "meta"), data=bytes(payload[0]))


@dataclass(frozen=True)
class Ack(Message):
    """Server -> sensor: these sequence numbers are stored; the spool may delete them."""

    TYPE: ClassVar[bytes] = b"ack"

    acked: tuple[int, ...] = ()

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"acked": list(self.acked)}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Ack:
        acked = _get(h, "acked")
        if not isinstance(acked, list) or len(acked) > 100_000 or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in acked):
            raise ProtocolError("field", "acked must be a list of non-negative integers")
        return cls(*_common(h), acked=tuple(acked))


@dataclass(frozen=True)
class ProfileMsg(Message):
    """Server -> sensor: the monitoring profiles every sensor runs (one procedure for all)."""

    TYPE: ClassVar[bytes] = b"profile"

    profiles: tuple[MonitoringProfile, ...] = ()

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"profiles": [p.to_dict() for p in self.profiles]}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> ProfileMsg:
        raw = _get(h, "profiles")
        if not isinstance(raw, list) or len(raw) > 64 or not all(isinstance(p, dict) for p in raw):
            raise ProtocolError("field", "profiles must be a list of objects")
        return cls(*_common(h), profiles=tuple(MonitoringProfile.from_dict(p) for p in raw))


COMMAND_ACTIONS = ("capture_iq", "switch_profile", "tdoa_snapshot")


@dataclass(frozen=True)
class Command(Message):
    """Server -> sensor: capture IQ evidence, switch monitoring profile, or take a synchronised TDOA
    snapshot (reference, target, reference on one sample clock at a stated UTC time)."""

    TYPE: ClassVar[bytes] = b"command"

    command_id: str = ""
    action: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"command_id": self.command_id, "action": self.action, "params": dict(self.params)}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Command:
        action = _str(h, "action", 32)
        if action not in COMMAND_ACTIONS:
            raise ProtocolError("field", f"action {action!r} not in {COMMAND_ACTIONS}")
        params = _dict(h, "params")
        if action == "capture_iq":
            _num(params, "duration_s", 0.001, 60.0)
            _num(params, "center_hz", 1e6, 7e9)
            _num_or_none(params, "sample_rate_hz", 1e3, 1e8)
        elif action == "tdoa_snapshot":
            _str(params, "t_utc", 40)
            _num(params, "target_hz", 1e6, 7e9)
            _num_or_none(params, "ref_hz", 1e6, 7e9)  # None: a PPS-disciplined sensor may skip the reference
            _num(params, "sample_rate_hz", 1e3, 1e8)
            _num(params, "ref_samples", 0, 1e8)
            _num(params, "target_samples", 1, 1e8)
            _num(params, "settle_samples", 0, 1e7)
        else:
            _str(params, "profile", 64)
        return cls(*_common(h), command_id=_str(h, "command_id", 64, pattern=_SENSOR_ID_RE),
                   action=action, params=params)


#: Why a sensor could not carry out an order (``order_result`` with ``ok`` false): no source to take a
#: snapshot from (or one that cannot reach the ordered frequencies), too many orders pending, the
#: ordered instant already past (on arrival or when the daemon got to it) or too far ahead, an order
#: it cannot read, the capture itself failed.
ORDER_FAILURES = ("no_snapshot_source", "busy", "late", "too_far_ahead", "bad_order", "capture_error")


@dataclass(frozen=True)
class OrderResult(Message):
    """Sensor -> server: what became of a command (today: a ``tdoa_snapshot`` order). ``ok`` true: done (the
    recording follows as evidence under ``command_id``); false: not done, ``reason`` one of
    :data:`ORDER_FAILURES`, ``detail`` a short text for the log. Lets the server stop waiting for a
    recording that will never come."""

    TYPE: ClassVar[bytes] = b"order_result"

    command_id: str = ""
    ok: bool = True
    reason: str = ""
    detail: str = ""

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"command_id": self.command_id, "ok": self.ok, "reason": self.reason, "detail": self.detail}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> OrderResult:
        if payload:
            raise ProtocolError("frames", "order_result has no payload frames")
        ok = _get(h, "ok")
        if not isinstance(ok, bool):
            raise ProtocolError("field", "ok must be a boolean")
        reason = _str(h, "reason", 32)
        if ok != (reason == ""):
            raise ProtocolError("field", "reason must be empty when ok and one of the failures when not")
        if reason and reason not in ORDER_FAILURES:
            raise ProtocolError("field", f"reason {reason[:32]!r} not in {ORDER_FAILURES}")
        return cls(*_common(h), command_id=_str(h, "command_id", 64, pattern=_SENSOR_ID_RE), ok=ok, reason=reason,
                   detail=_str_or_none(h, "detail", 512) or "")


@dataclass(frozen=True)
class AlertMsg(Message):
    """Server -> subscribers: one alert event; ``alert`` is the documented alert JSON object."""

    TYPE: ClassVar[bytes] = b"alert"

    alert: Mapping[str, Any] = field(default_factory=dict)

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"alert": dict(self.alert)}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> AlertMsg:
        alert = _dict(h, "alert", optional=False)
        for k in ("id", "event", "state"):
            _get(alert, k)
        return cls(*_common(h), alert=alert)


@dataclass(frozen=True)
class CoordMsg(Message):
    """Server -> subscribers (topic ``coord.<P>``): a coordination request event; ``event`` is one of
    submitted, asked, answered, reminder, concluded, withdrawn; ``request`` the request's summary."""

    TYPE: ClassVar[bytes] = b"coord"

    event: str = ""
    request: Mapping[str, Any] = field(default_factory=dict)

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"event": self.event, "request": dict(self.request)}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> CoordMsg:
        request = _dict(h, "request", optional=False)
        _get(request, "id")
        return cls(*_common(h), event=_str(h, "event", 32), request=request)


@dataclass(frozen=True)
class CaseMsg(Message):
    """Server -> subscribers (topic ``case.<P>``): an enforcement case changed; ``event`` is the kind of
    the event just appended (opened, note, handover_asked, closed ...), ``case`` the case's summary
    (id, alert_id, state, holder, provinces, outcome)."""

    TYPE: ClassVar[bytes] = b"case"

    event: str = ""
    case: Mapping[str, Any] = field(default_factory=dict)

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"event": self.event, "case": dict(self.case)}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> CaseMsg:
        case = _dict(h, "case", optional=False)
        for k in ("id", "alert_id", "state"):
            _get(case, k)
        return cls(*_common(h), event=_str(h, "event", 32), case=case)


@dataclass(frozen=True)
class Request(Message):
    """Console/API client -> server: an operation with JSON arguments."""

    TYPE: ClassVar[bytes] = b"request"

    op: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        return {"op": self.op, "args": dict(self.args)}, []

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Request:
        return cls(*_common(h), op=_str(h, "op", 64), args=_dict(h, "args"))


@dataclass(frozen=True)
class Reply(Message):
    """Server -> API client: ``ok`` and a JSON result (or an error text), optional array payloads."""

    TYPE: ClassVar[bytes] = b"reply"

    ok: bool = True
    result: Any = None
    error: str | None = None
    arrays: tuple[np.ndarray, ...] = ()

    def _payload(self) -> tuple[dict[str, Any], list[bytes]]:
        heads: dict[str, Any] = {}
        frames: list[bytes] = []
        for i, a in enumerate(self.arrays):
            ah, data = _array_header(a, f"a{i}_", "<f4" if a.dtype != np.float64 else "<f8")
            heads |= ah
            frames.append(data)
        return {"ok": self.ok, "result": self.result, "error": self.error, "n_arrays": len(frames)} | heads, \
            frames

    @classmethod
    def _from(cls, h: Mapping[str, Any], payload: Sequence[bytes]) -> Reply:
        n = _int(h, "n_arrays", 0, 64) if "n_arrays" in h else 0
        if len(payload) != n:
            raise ProtocolError("frames", f"reply announces {n} arrays, has {len(payload)}")
        arrays = tuple(_array(payload[i], h, f"a{i}_", MAX_SPECTRUM_BINS * 64) for i in range(n))
        ok = _get(h, "ok")
        if not isinstance(ok, bool):
            raise ProtocolError("field", "ok must be a boolean")
        return cls(*_common(h), ok=ok, result=h.get("result"), error=_str_or_none(h, "error", 4096),
                   arrays=arrays)


MESSAGE_TYPES: dict[bytes, type[Message]] = {
    cls.TYPE: cls for cls in (Hello, Spectrum, Emissions, Occupancy, Heartbeat, Evidence, Ack, ProfileMsg,
                              Command, OrderResult, AlertMsg, CoordMsg, CaseMsg, Request, Reply)
}

#: Largest total message per type (bytes over all frames); larger ones are dropped unparsed.
MAX_MESSAGE_BYTES: dict[bytes, int] = {
    b"spectrum": MAX_HEADER_BYTES + MAX_SPECTRUM_BINS * 8,
    b"occupancy": MAX_HEADER_BYTES + MAX_CHANNELS * 12,
    b"evidence": MAX_HEADER_BYTES + MAX_EVIDENCE_CHUNK_BYTES,
    b"reply": MAX_HEADER_BYTES + MAX_SPECTRUM_BINS * 64 * 8,
    b"request": MAX_REQUEST_BYTES,
}


M = TypeVar("M", bound=Message)


def decode_as(frames: Sequence[bytes], cls: type[M]) -> M:
    """Decode a message that may only be of type ``cls`` (e.g. a reply, an alert), typed as such."""
    msg = decode(frames, allowed=(cls.TYPE,))
    if not isinstance(msg, cls):  # pragma: no cover - MESSAGE_TYPES maps each tag to its class
        raise ProtocolError("type", f"expected {cls.__name__}, got {type(msg).__name__}")
    return msg


def decode(frames: Sequence[bytes], allowed: Sequence[bytes] | None = None) -> Message:
    """Parse and validate one multipart message; raise ProtocolError with a countable reason."""
    if len(frames) < 2:
        raise ProtocolError("frames", f"need at least 2 frames, got {len(frames)}")
    if len(frames) > 70:
        raise ProtocolError("frames", f"too many frames ({len(frames)})")
    mtype = bytes(frames[0])
    cls = MESSAGE_TYPES.get(mtype)
    if cls is None or (allowed is not None and mtype not in allowed):
        raise ProtocolError("type", f"unexpected message type {mtype[:32]!r}")
    total = sum(len(f) for f in frames)
    if len(frames[1]) > MAX_HEADER_BYTES or total > MAX_MESSAGE_BYTES.get(mtype, MAX_HEADER_BYTES + 1024):
        raise ProtocolError("size", f"{mtype.decode()} message of {total} bytes exceeds the limit")
    try:
        header = json.loads(bytes(frames[1]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError("header_json", f"header is not UTF-8 JSON ({type(exc).__name__})") from exc
    if not isinstance(header, dict):
        raise ProtocolError("header_json", "header must be a JSON object")
    v = header.get("v")
    if v != PROTOCOL_VERSION:
        raise ProtocolError("version", f"protocol version {v!r} not supported (need {PROTOCOL_VERSION})")
    try:
        return cls._from(header, [bytes(f) for f in frames[2:]])
    except ProtocolError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise ProtocolError("field", f"{type(exc).__name__}: {exc}") from exc


def encode(msg: Message) -> list[bytes]:
    """Serialise a message to its multipart frames."""
    return msg.to_frames()
