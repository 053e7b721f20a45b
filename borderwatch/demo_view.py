"""What ``borderwatch demo`` shows on the terminal: a live view while it plays, a summary at the end.

Two shapes of the same information, picked by whether stdout is a terminal:
- :class:`LiveView` (a tty): the screen is redrawn about once a second with the sensors (status,
  spool depth), the open alerts (severity, verdicts, band, frequency, source -> affected
  provinces, position) and the latest alert events. Plain ANSI "home + clear"; no curses, so it
  works in any terminal and over ssh.
- :class:`LogView` (a pipe, a CI log): one line per alert event as it happens and a status line
  every ten seconds; nothing is ever redrawn, so the output reads well in a file.

:func:`format_summary` is the final report either way: per incident what was expected and what the
network concluded, delivery figures and where the archive is.
"""

from __future__ import annotations

import shutil
import threading
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from borderwatch.demo import DemoNetwork, DemoResult
from borderwatch.i18n import N_, _

STATUS_EVERY_S = 10.0
RECENT_EVENTS = 8
SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2, "info": 3}
VERDICT_SHORT = {"unlicensed": N_("UNLICENSED"), "cross_border": N_("CROSS-BORDER"),
                 "licence_violation": N_("LICENCE-VIOLATION")}
SEVERITY_SHORT = {"critical": N_("CRITICAL"), "major": N_("MAJOR"), "minor": N_("MINOR"), "info": N_("INFO")}
EVENT_NAMES = {"opened": N_("opened"), "updated": N_("updated"), "acknowledged": N_("acknowledged"),
               "resolved": N_("resolved"), "evidence": N_("evidence")}
SEVERITY_NAMES = {"critical": N_("critical"), "major": N_("major"), "minor": N_("minor"), "info": N_("info")}
SENSOR_STATES = {"live": N_("live"), "late": N_("late"), "down": N_("down")}
POSITION_METHODS = {"tdoa": N_("tdoa"), "fused": N_("fused"), "rss": N_("rss")}
"""How an alert's position was found (alert schema ``position.method``): time differences alone, time
differences fused with the received levels, received levels alone; the codes in English, words in Chinese."""
PROVINCE_NAMES = {"SH": N_("SH"), "JS": N_("JS"), "ZJ": N_("ZJ"), "AH": N_("AH")}
"""Province codes as the live view shows them: the code in English, the name (上海 ...) in Chinese."""
BAND_NAMES = {name: name for name in (
    N_("VHF low land mobile"), N_("VHF mid land mobile"), N_("FM broadcast"), N_("Aeronautical VHF (airband)"),
    N_("PMR 150 (VHF high land mobile)"), N_("Maritime VHF"), N_("VHF high land mobile (upper)"),
    N_("UHF 380 land mobile (TETRA/PDT)"), N_("PMR 400"), N_("Public mobile 900"), N_("Public mobile 1800"),
)}
"""The shipped rules' band names (station_db/data/rules.toml), translated for display."""


def width(text: str) -> int:
    """Terminal columns of ``text``: East Asian wide characters (Chinese) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int) -> str:
    """``text`` left-aligned in ``columns`` terminal columns (``str.ljust`` counts characters)."""
    return text + " " * max(0, columns - width(text))


def clip(text: str, columns: int) -> str:
    """``text`` cut to at most ``columns`` terminal columns."""
    out, used = [], 0
    for ch in text:
        used += width(ch)
        if used > columns:
            break
        out.append(ch)
    return "".join(out)


def _label(table: Mapping[str, str], code: Any) -> str:
    text = table.get(str(code))
    return _(text) if text is not None else str(code)


def fmt_freq(f_hz: Any) -> str:
    """MHz with the precision a channel needs (100.100, 152.3800, 410.21250)."""
    try:
        return f"{float(f_hz) / 1e6:.4f}"
    except (TypeError, ValueError):
        return "-"


def fmt_verdicts(verdicts: Iterable[str]) -> str:
    return "+".join(_label(VERDICT_SHORT, v) for v in verdicts) or "-"


def fmt_province_list(codes: Iterable[str] | None, empty: str) -> str:
    return ",".join(_label(PROVINCE_NAMES, c) for c in codes or ()) or empty


def fmt_provinces(doc: Mapping[str, Any]) -> str:
    src = fmt_province_list(doc.get("provinces_source"), "?")
    aff = fmt_province_list(doc.get("provinces_affected"), "-")
    return f"{src} -> {aff}"


def fmt_position(doc: Mapping[str, Any]) -> str:
    pos = doc.get("position")
    if not pos:
        return "-"
    err = pos.get("error_km")
    kind = pos.get("kind")
    where = f"{float(pos['lat']):.3f}N {float(pos['lon']):.3f}E"
    if kind in ("region", "annulus"):
        return _("{kind} around {where}").format(kind=_label({"region": N_("region"), "annulus": N_("annulus")}, kind),
                                                 where=where)
    return f"{where} +-{float(err):.1f} km" if err is not None else where


def alert_line(doc: Mapping[str, Any]) -> str:
    """One line per alert: severity, verdicts, band, frequency, provinces, position."""
    severity = _label(SEVERITY_SHORT, doc.get("severity")) if doc.get("severity") else "-"
    band = clip(_label(BAND_NAMES, doc.get("band")) if doc.get("band") else "-", 22)
    return (f"{pad(severity, 8)} {pad(fmt_verdicts(doc.get('verdicts') or ()), 30)} "
            f"{pad(band, 22)} {fmt_freq(doc.get('f_center_hz')):>9s} MHz  "
            f"{pad(fmt_provinces(doc), 12)} {fmt_position(doc)}")


def event_line(doc: Mapping[str, Any], provinces: Iterable[str], t_s: float) -> str:
    """An alert event as a log line (who received it included)."""
    return (f"[{t_s:6.1f}s] {_('alert')} {pad(_label(EVENT_NAMES, doc.get('event')), 12)} {doc.get('id')}  "
            f"{alert_line(doc)}  ({_('to')} alert.{', alert.'.join(sorted(provinces))})")


class _Base:
    """Shared state: the network, the start time, the latest events."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.net: DemoNetwork | None = None
        self.lock = threading.Lock()
        self.recent: deque[str] = deque(maxlen=RECENT_EVENTS)
        self.duration_s: float | None = None

    def started(self, net: DemoNetwork) -> None:
        self.net = net

    def elapsed(self) -> float:
        return self.net.elapsed_s() if self.net is not None else 0.0

    def sensors(self) -> list[dict[str, Any]]:
        if self.net is None:
            return []
        try:
            with self.net.api() as api:
                return list(api.result("sensors"))
        except Exception:  # the view never stops the demo
            return []

    def counters(self) -> dict[str, Any]:
        if self.net is None:
            return {}
        try:
            return self.net.counters()
        except Exception:
            return {}

    def open_alerts(self) -> list[Mapping[str, Any]]:
        if self.net is None:
            return []
        docs = [d for d in self.net.alerts.latest().values() if d.get("state") in ("open", "acknowledged")]
        return sorted(docs, key=lambda d: (SEVERITY_ORDER.get(str(d.get("severity")), 9), str(d.get("first_seen"))))


class LogView(_Base):
    """Line-oriented output for pipes and logs.

    Events are printed at the next tick (about a second later), once every province topic has
    carried them, so each line says who received it. An ``updated`` event that only attaches IQ
    evidence is folded into one "evidence" line instead of repeating the alert.
    """

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._next_status = STATUS_EVERY_S
        self._pending: list[tuple[float, dict[str, Any], set[str]]] = []
        self._shown: dict[str, tuple[str, int]] = {}

    def started(self, net: DemoNetwork) -> None:
        super().started(net)
        sc = net.scenario
        assert net.server is not None
        self.out.write("borderwatch demo: " + _("scenario {name!r}, {n_sensors} sensors, {n_tx} transmitters; "
                                                "server {api} (alerts on {pub}); data in {data}").format(
            name=sc.name, n_sensors=len(sc.sensors), n_tx=len(sc.transmitters), api=net.server.endpoints["api"],
            pub=net.server.endpoints["pub"], data=net.data_dir) + "\n")
        if getattr(net, "web", None) is not None:
            self.out.write(web_lines(net.web))
        self.out.flush()

    def event(self, doc: dict[str, Any], provinces: set[str]) -> None:
        with self.lock:
            self._pending.append((self.elapsed(), doc, provinces))

    def _flush_events(self) -> None:
        with self.lock:
            pending, self._pending = self._pending, []
        evidence: dict[str, tuple[float, int]] = {}
        for t, doc, provinces in pending:
            aid = str(doc.get("id"))
            line = alert_line(doc)
            n_ev = len(doc.get("evidence") or ())
            last = self._shown.get(aid)
            self._shown[aid] = (line, n_ev)
            if doc.get("event") == "updated" and last is not None and last[0] == line:
                if n_ev > last[1]:
                    evidence[aid] = (t, n_ev)
                continue
            self.out.write(event_line(doc, provinces, t) + "\n")
        for aid, (t, n_ev) in evidence.items():
            self.out.write(f"[{t:6.1f}s] {_('alert')} {pad(_('evidence'), 12)} {aid}  "
                           + _("{n} IQ capture(s) (SigMF) attached").format(n=n_ev) + "\n")
        self.out.flush()

    def tick(self, net: DemoNetwork) -> None:
        self._flush_events()
        t = net.elapsed_s()
        if t < self._next_status:
            return
        self._next_status = t + STATUS_EVERY_S
        sensors = self.sensors()
        live = sum(1 for s in sensors if s.get("status") == "live")
        c = self.counters()
        stored = sum(int(v) for v in (c.get("stored") or {}).values())
        rejected = sum(int(v) for v in (c.get("rejected") or {}).values())
        with self.lock:
            self.out.write(f"[{t:6.1f}s] " + _("sensors {live}/{n} live, {stored} messages stored, "
                                               "{rejected} rejected, {open} open alerts").format(
                live=live, n=len(sensors), stored=stored, rejected=rejected, open=len(self.open_alerts())) + "\n")
            self.out.flush()

    def finished(self, result: DemoResult) -> None:
        self._flush_events()
        self.out.write(format_summary(result))
        self.out.flush()


class LiveView(_Base):
    """A screen redrawn about once a second (terminals)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._shown: dict[str, tuple[str, int]] = {}
        self._last_key: str | None = None

    def event(self, doc: dict[str, Any], provinces: set[str]) -> None:
        """Add to the latest events; an update that only attaches IQ evidence is one growing line."""
        aid = str(doc.get("id"))
        line = alert_line(doc)
        n_ev = len(doc.get("evidence") or ())
        with self.lock:
            last = self._shown.get(aid)
            self._shown[aid] = (line, n_ev)
            if doc.get("event") == "updated" and last is not None and last[0] == line:
                if n_ev > last[1]:
                    text = (f"{self.elapsed():6.1f}s {pad(_('evidence'), 12)} {aid}: "
                            + _("{n} IQ capture(s) (SigMF) attached").format(n=n_ev))
                    if self._last_key == f"ev:{aid}" and self.recent:
                        self.recent[-1] = text
                    else:
                        self.recent.append(text)
                    self._last_key = f"ev:{aid}"
                return
            self.recent.append(f"{self.elapsed():6.1f}s {pad(_label(EVENT_NAMES, doc.get('event')), 12)} {line}")
            self._last_key = aid

    def tick(self, net: DemoNetwork) -> None:
        self.out.write("\x1b[H\x1b[2J" + self.render(net))
        self.out.flush()

    def render(self, net: DemoNetwork) -> str:
        columns = shutil.get_terminal_size((120, 40)).columns
        sc = net.scenario
        c = self.counters()
        stored = sum(int(v) for v in (c.get("stored") or {}).values())
        rejected = sum(int(v) for v in (c.get("rejected") or {}).values())
        dur = f" / {self.duration_s:.0f}" if self.duration_s else ""
        lines = [f"borderwatch demo - {sc.name}   t = {net.elapsed_s():5.1f}{dur} s   "
                 + _("stored {stored}   rejected {rejected}   (Ctrl-C ends)").format(stored=stored, rejected=rejected),
                 ""]
        if getattr(net, "web", None) is not None:
            lines[1:1] = web_lines(net.web).rstrip("\n").split("\n")
        sensors = self.sensors()
        lines.append(_("SENSORS ({live}/{n} live)").format(
            live=sum(1 for s in sensors if s.get("status") == "live"), n=len(sensors)))
        cells = [f"{s.get('sensor_id', '?'):16s} {pad(_label(PROVINCE_NAMES, s.get('province', '?')), 2)} "
                 f"{pad(_label(SENSOR_STATES, s.get('status', '?')), 4)} "
                 + _("spool {n:3d}").format(n=int(s.get("spool_depth") or 0)) for s in sensors]
        per_row = max(1, columns // 36)
        for i in range(0, len(cells), per_row):
            lines.append("  " + "   ".join(cells[i:i + per_row]))
        alerts = self.open_alerts()
        lines += ["", _("OPEN ALERTS ({n})").format(n=len(alerts))]
        lines += [clip(f"  {alert_line(d)}", columns) for d in alerts] or ["  " + _("(none)")]
        lines += ["", _("LATEST EVENTS")]
        with self.lock:
            lines += [clip(f"  {e}", columns) for e in self.recent] or ["  " + _("(none yet)")]
        return "\n".join(lines) + "\n"

    def finished(self, result: DemoResult) -> None:
        self.out.write(format_summary(result))
        self.out.flush()


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def format_summary(result: DemoResult) -> str:
    """The end-of-run report: incidents (expected vs concluded), delivery, archive."""
    fail = _("FAIL")
    lines = ["", "== " + _("borderwatch demo summary: {scenario} ({s:.0f} s, {sensors} sensors, {events} alert "
                           "events, {cpu:.0f} s CPU)").format(scenario=result.scenario, s=result.duration_s,
                                                             sensors=result.sensors, events=result.alert_events,
                                                             cpu=result.cpu_s) + " =="]
    rows = [["", _("transmitter"), _("expected"), _("concluded"), _("provinces"), _("sensors"), _("position by"),
             _("position error"), _("severity")]]
    for o in result.outcomes:
        e = o.expectation
        expected = _("no alert") if e.is_traffic else fmt_verdicts(e.verdicts)
        concluded = (_("no alert") if not o.alert_ids else fmt_verdicts(o.verdicts) + (
            " " + _("({n} alerts)").format(n=len(o.alert_ids)) if len(o.alert_ids) > 1 else ""))
        provs = "-"
        if o.alert_ids:
            provs = f"{fmt_province_list(o.provinces_source, '?')} -> {fmt_province_list(o.provinces_affected, '-')}"
        pos = "-"
        if o.position_error_km is not None:
            pos = f"{o.position_error_km:.1f} km"
            if o.stated_error_km is not None:
                pos += " " + _("(stated +-{km:.1f})").format(km=o.stated_error_km)
        severity = _label(SEVERITY_NAMES, o.severity) if o.severity else "-"
        status = "-" if o.skipped else (_("ok") if o.passed else fail)
        n_sensors = str(o.n_sensors) if o.alert_ids else "-"
        method = _label(POSITION_METHODS, o.position_method) if o.position_method else "-"
        rows.append([status, o.transmitter, expected, "-" if o.skipped else concluded, provs, n_sensors, method, pos,
                     severity])
    lines += _table(rows)
    for o in result.outcomes:
        for p in o.problems:
            lines.append(f"  {fail} {o.transmitter}: {p}")
    for a in result.stray_alerts:
        lines.append(f"  {fail} " + _("unexpected alert {id}: {line}").format(id=a.get("id"), line=alert_line(a)))
    d = result.delivery
    stored = sum(d.stored.values())
    spooled = sum(s["spooled"] for s in d.per_sensor.values())
    lines.append("  " + _("delivery: {spooled} messages spooled by the sensors, {stored} stored by the server "
                          "({by_type}); {rejected} rejected, {duplicates} duplicate deliveries absorbed").format(
        spooled=spooled, stored=stored, by_type=", ".join(f"{k} {v}" for k, v in sorted(d.stored.items())),
        rejected=sum(d.rejected.values()), duplicates=d.duplicates))
    for p in d.problems:
        lines.append(f"  {fail} " + _("delivery: {problem}").format(problem=p))
    lines += case_lines(result)
    if result.data_dir is not None:
        lines.append("  " + _("archive: {path} (server.db alerts, spectra/*.h5, evidence/*/*.sigmf-meta, "
                              "summary.json)").format(path=result.data_dir))
    n_inc = sum(1 for o in result.outcomes if not o.expectation.is_traffic and not o.skipped)
    n_traffic = sum(1 for o in result.outcomes if o.expectation.is_traffic)
    if result.passed:
        lines.append("  " + _("RESULT: all {n} incidents raised the expected alerts to the expected provinces; "
                              "{traffic} licensed stations raised nothing; nothing lost.").format(
            n=n_inc, traffic=n_traffic))
    else:
        lines.append("  " + _("RESULT: the network did NOT conclude what the scenario expects (see FAIL lines)."))
    return "\n".join(lines) + "\n"


def web_lines(web: Any) -> str:
    """Where the field teams' web view is, and a login token per province (demo tokens, made per play)."""
    out = "borderwatch demo: " + _("web view for field teams: {url} (self-signed certificate)").format(url=web.url)
    tokens = ", ".join(f"{p} {tok}" for p, tok in web.tokens.items())
    return out + "\n  " + _("team tokens: {tokens}").format(tokens=tokens) + "\n"


CASE_STATES = {"open": N_("open"), "closed": N_("closed"), "merged": N_("merged"), "stopped": N_("stopped"),
               "licence_amended": N_("licence_amended"), "penalised": N_("penalised"), "referred": N_("referred"),
               "not_found": N_("not_found")}
"""A case's state, or its outcome once closed (coordination.cases STATES and OUTCOMES): codes in English."""


def case_lines(result: DemoResult) -> list[str]:
    """The cases the server opened and who holds them."""
    if not result.cases:
        return ["  " + _("cases: none opened")]
    lines = ["  " + _("cases: {n} opened (major and critical alerts)").format(n=len(result.cases))]
    for c in result.cases:
        ho = " -> " + _label(PROVINCE_NAMES, c["handover"]["to"]) if c.get("handover") else ""
        lines.append(f"    {c['id']}  {pad(_label(SEVERITY_NAMES, c.get('severity')), 8)} "
                     + _("held by {holder}{handover}, {state}").format(
                         holder=_label(PROVINCE_NAMES, c.get("holder")), handover=ho,
                         state=_label(CASE_STATES, c.get("outcome") or c.get("state")))
                     + f"  {_('alert')} {c.get('alert_id')}")
    if result.web_url:
        lines.append("  " + _("web view: {url}").format(url=result.web_url))
    return lines


def make_view(out: TextIO, *, live: bool | None = None) -> LiveView | LogView:
    """The live view on a terminal, the log view otherwise."""
    is_tty = out.isatty() if live is None else live
    return LiveView(out) if is_tty else LogView(out)

