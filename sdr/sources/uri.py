"""Source URIs: one string (``rtlsdr://0?gain=30``, ``file:rec.sigmf-meta``, ``sim:scenario.toml?sensor=ID``)
to an open :class:`~sdr.sources.base.Source`.

The factory knows every concrete source, so it lives apart from the interface they all import
(``base.py``): the sources depend on the interface, the factory on the sources, and nothing loops back.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from sdr.scenario import load_scenario
from sdr.sources.base import Source, SourceError, parse_si
from sdr.sources.file import FileSource
from sdr.sources.rtlsdr import RtlSdrSource
from sdr.sources.rtltcp import RtlTcpSource
from sdr.sources.sim_link import FreeSpaceModel, P1546Model, PropagationModel
from sdr.sources.simulated import SimulatedSource


def _number(uri: str, key: str, text: str) -> float:
    """Parse ``2.4e6``, ``2.4M``, ``250k``; errors name the URI and key."""
    try:
        return parse_si(text)
    except ValueError:
        raise SourceError(f"source {uri!r}: {key}={text!r} is not a number") from None


def _gain(uri: str, text: str) -> float | None:
    return None if text.lower() in ("auto", "agc", "none") else _number(uri, "gain", text)


def _bool(uri: str, key: str, text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise SourceError(f"source {uri!r}: {key}={text!r} must be 1/0/true/false")


def _query(uri: str, query: str, allowed: set[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in allowed:
            raise SourceError(f"source {uri!r}: unknown parameter {key!r}; allowed: {', '.join(sorted(allowed))}")
        params[key] = value
    return params


URI_HELP = (
    "rtlsdr://INDEX?gain=30&ppm=1&rate=2.4e6, rtltcp://HOST:PORT?gain=.., "
    "file:PATH?rate=..&freq=..&format=cu8, file:PATH.sigmf-meta, sim:SCENARIO.toml?sensor=ID&model=p1546"
)


def open_source(uri: str) -> Source:
    """Open a source from a URI (see URI_HELP); a plain path is a file. Errors name the URI and key."""
    uri = uri.strip()
    scheme, sep, rest = uri.partition(":")
    if not (sep and scheme in ("rtlsdr", "rtltcp", "file", "sim")):
        # "word:..." is a mistyped scheme; anything else (a path, C:\...) is a recording
        if sep and len(scheme) > 1 and scheme.isidentifier():
            raise SourceError(f"unknown source scheme {scheme!r} in {uri!r}; use one of: {URI_HELP}")
        scheme, rest = "file", uri
    body, _, query = rest.partition("?")
    common = {"rate", "freq", "gain", "ppm"}
    if scheme == "rtlsdr":
        p = _query(uri, query, common | {"buffer_s"})
        index_text = body.lstrip("/") or "0"
        if not index_text.isdigit():
            raise SourceError(f"source {uri!r}: device index {index_text!r} must be a number (rtlsdr://0)")
        return RtlSdrSource(
            int(index_text),
            sample_rate_hz=_number(uri, "rate", p.get("rate", "2.4e6")),
            center_freq_hz=_number(uri, "freq", p.get("freq", "100e6")),
            gain_db=_gain(uri, p.get("gain", "auto")),
            ppm=int(_number(uri, "ppm", p.get("ppm", "0"))),
            buffer_s=_number(uri, "buffer_s", p.get("buffer_s", "1")),
        )
    if scheme == "rtltcp":
        p = _query(uri, query, common | {"buffer_s", "timeout_s"})
        host, _, port = body.lstrip("/").rpartition(":")
        if not host or not port.isdigit():
            raise SourceError(f"source {uri!r}: expected rtltcp://HOST:PORT")
        return RtlTcpSource(
            host, int(port),
            sample_rate_hz=_number(uri, "rate", p.get("rate", "2.4e6")),
            center_freq_hz=_number(uri, "freq", p.get("freq", "100e6")),
            gain_db=_gain(uri, p.get("gain", "auto")),
            ppm=int(_number(uri, "ppm", p.get("ppm", "0"))),
            buffer_s=_number(uri, "buffer_s", p.get("buffer_s", "1")),
            timeout_s=_number(uri, "timeout_s", p.get("timeout_s", "5")),
        )
    if scheme == "file":
        p = _query(uri, query, {"rate", "freq", "format", "loop"})
        path = body[2:] if body.startswith("//") else body
        if not path:
            raise SourceError(f"source {uri!r}: missing file path (file:PATH)")
        return FileSource(
            path,
            sample_rate_hz=_number(uri, "rate", p["rate"]) if "rate" in p else None,
            center_freq_hz=_number(uri, "freq", p["freq"]) if "freq" in p else None,
            fmt=p.get("format"),
            loop=_bool(uri, "loop", p.get("loop", "0")),
        )
    p = _query(uri, query, common | {"sensor", "seed", "realtime", "start_s", "model"})
    # model=world (the default when the scenario has a [world] table, else free_space) renders its world
    models: dict[str, Callable[[], PropagationModel]] = {"free_space": FreeSpaceModel, "p1546": P1546Model}
    model = p.get("model")
    if model is not None and model not in (*models, "world"):
        raise SourceError(f"source {uri!r}: model={model!r}; choose one of world, {', '.join(models)}")
    path = body[2:] if body.startswith("//") else body
    if "sensor" not in p:
        raise SourceError(f"source {uri!r}: say which sensor of the scenario receives (sim:FILE.toml?sensor=ID)")
    scenario = load_scenario(path)
    if model == "world" and scenario.world is None:
        raise SourceError(f"source {uri!r}: model=world but {path} has no [world] table")
    return SimulatedSource(
        scenario,
        p["sensor"],
        center_freq_hz=_number(uri, "freq", p.get("freq", "100e6")),
        sample_rate_hz=_number(uri, "rate", p.get("rate", "2.4e6")),
        gain_db=_gain(uri, p.get("gain", "auto")),
        ppm=_number(uri, "ppm", p.get("ppm", "0")),
        seed=int(_number(uri, "seed", p["seed"])) if "seed" in p else None,
        realtime=_bool(uri, "realtime", p.get("realtime", "0")),
        start_s=_number(uri, "start_s", p.get("start_s", "0")),
        propagation=models[model]() if model in models else None,
    )
