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
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from borderwatch.demo import DemoNetwork, DemoResult

STATUS_EVERY_S = 10.0
RECENT_EVENTS = 8
SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2, "info": 3}
VERDICT_SHORT = {"unlicensed": "UNLICENSED", "cross_border": "CROSS-BORDER", "licence_violation": "LICENCE-VIOLATION"}


def fmt_freq(f_hz: Any) -> str:
    """MHz with the precision a channel needs (100.100, 152.3800, 410.21250)."""
    try:
        return f"{float(f_hz) / 1e6:.4f}"
    except (TypeError, ValueError):
        return "-"


def fmt_verdicts(verdicts: Iterable[str]) -> str:
    return "+".join(VERDICT_SHORT.get(v, v) for v in verdicts) or "-"


def fmt_provinces(doc: Mapping[str, Any]) -> str:
    src = ",".join(doc.get("provinces_source") or ()) or "?"
    aff = ",".join(doc.get("provinces_affected") or ()) or "-"
    return f"{src} -> {aff}"


def fmt_position(doc: Mapping[str, Any]) -> str:
    pos = doc.get("position")
    if not pos:
        return "-"
    err = pos.get("error_km")
    kind = pos.get("kind")
    where = f"{float(pos['lat']):.3f}N {float(pos['lon']):.3f}E"
    if kind in ("region", "annulus"):
        return f"{kind} around {where}"
    return f"{where} +-{float(err):.1f} km" if err is not None else where


def alert_line(doc: Mapping[str, Any]) -> str:
    """One line per alert: severity, verdicts, band, frequency, provinces, position."""
    return (f"{str(doc.get('severity') or '-').upper():8s} {fmt_verdicts(doc.get('verdicts') or ()):30s} "
            f"{str(doc.get('band') or '-')[:22]:22s} {fmt_freq(doc.get('f_center_hz')):>9s} MHz  "
            f"{fmt_provinces(doc):12s} {fmt_position(doc)}")


def event_line(doc: Mapping[str, Any], provinces: Iterable[str], t_s: float) -> str:
    """An alert event as a log line (who received it included)."""
    return (f"[{t_s:6.1f}s] alert {doc.get('event')!s:12s} {doc.get('id')}  {alert_line(doc)}  "
            f"(to alert.{', alert.'.join(sorted(provinces))})")


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
        self.out.write(f"borderwatch demo: scenario {sc.name!r}, {len(sc.sensors)} sensors, "
                       f"{len(sc.transmitters)} transmitters; server {net.server.endpoints['api']} "
                       f"(alerts on {net.server.endpoints['pub']}); data in {net.data_dir}\n")
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
            self.out.write(f"[{t:6.1f}s] alert evidence     {aid}  {n_ev} IQ capture(s) (SigMF) attached\n")
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
            self.out.write(f"[{t:6.1f}s] sensors {live}/{len(sensors)} live, {stored} messages stored, "
                           f"{rejected} rejected, {len(self.open_alerts())} open alerts\n")
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
                    text = f"{self.elapsed():6.1f}s {'evidence':12s} {aid}: {n_ev} IQ capture(s) (SigMF) attached"
                    if self._last_key == f"ev:{aid}" and self.recent:
                        self.recent[-1] = text
                    else:
                        self.recent.append(text)
                    self._last_key = f"ev:{aid}"
                return
            self.recent.append(f"{self.elapsed():6.1f}s {doc.get('event')!s:12s} {line}")
            self._last_key = aid

    def tick(self, net: DemoNetwork) -> None:
        self.out.write("\x1b[H\x1b[2J" + self.render(net))
        self.out.flush()

    def render(self, net: DemoNetwork) -> str:
        width = shutil.get_terminal_size((120, 40)).columns
        sc = net.scenario
        c = self.counters()
        stored = sum(int(v) for v in (c.get("stored") or {}).values())
        rejected = sum(int(v) for v in (c.get("rejected") or {}).values())
        dur = f" / {self.duration_s:.0f}" if self.duration_s else ""
        lines = [f"borderwatch demo - {sc.name}   t = {net.elapsed_s():5.1f}{dur} s   "
                 f"stored {stored}   rejected {rejected}   (Ctrl-C ends)", ""]
        sensors = self.sensors()
        lines.append(f"SENSORS ({sum(1 for s in sensors if s.get('status') == 'live')}/{len(sensors)} live)")
        cells = [f"{s.get('sensor_id', '?'):16s} {s.get('province', '?'):2s} {s.get('status', '?')!s:4s} "
                 f"spool {int(s.get('spool_depth') or 0):3d}" for s in sensors]
        per_row = max(1, width // 36)
        for i in range(0, len(cells), per_row):
            lines.append("  " + "   ".join(cells[i:i + per_row]))
        alerts = self.open_alerts()
        lines += ["", f"OPEN ALERTS ({len(alerts)})"]
        lines += [f"  {alert_line(d)}"[:width] for d in alerts] or ["  (none)"]
        lines += ["", "LATEST EVENTS"]
        with self.lock:
            lines += [f"  {e}"[:width] for e in self.recent] or ["  (none yet)"]
        return "\n".join(lines) + "\n"

    def finished(self, result: DemoResult) -> None:
        self.out.write(format_summary(result))
        self.out.flush()


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def format_summary(result: DemoResult) -> str:
    """The end-of-run report: incidents (expected vs concluded), delivery, archive."""
    lines = ["", f"== borderwatch demo summary: {result.scenario} ({result.duration_s:.0f} s, "
                 f"{result.sensors} sensors, {result.alert_events} alert events, {result.cpu_s:.0f} s CPU) =="]
    rows = [["", "transmitter", "expected", "concluded", "provinces", "position error", "severity"]]
    for o in result.outcomes:
        e = o.expectation
        expected = "no alert" if e.is_traffic else fmt_verdicts(e.verdicts)
        concluded = ("no alert" if not o.alert_ids else
                     fmt_verdicts(o.verdicts) + (f" ({len(o.alert_ids)} alerts)" if len(o.alert_ids) > 1 else ""))
        provs = "-"
        if o.alert_ids:
            provs = f"{','.join(o.provinces_source) or '?'} -> {','.join(o.provinces_affected) or '-'}"
        pos = "-"
        if o.position_error_km is not None:
            pos = f"{o.position_error_km:.1f} km"
            if o.stated_error_km is not None:
                pos += f" (stated +-{o.stated_error_km:.1f})"
        rows.append(["ok" if o.passed else "FAIL", o.transmitter, expected, concluded, provs, pos, o.severity or "-"])
    lines += _table(rows)
    for o in result.outcomes:
        for p in o.problems:
            lines.append(f"  FAIL {o.transmitter}: {p}")
    for a in result.stray_alerts:
        lines.append(f"  FAIL unexpected alert {a.get('id')}: {alert_line(a)}")
    d = result.delivery
    stored = sum(d.stored.values())
    spooled = sum(s["spooled"] for s in d.per_sensor.values())
    lines.append(f"  delivery: {spooled} messages spooled by the sensors, {stored} stored by the server "
                 f"({', '.join(f'{k} {v}' for k, v in sorted(d.stored.items()))}); "
                 f"{sum(d.rejected.values())} rejected, {d.duplicates} duplicate deliveries absorbed")
    for p in d.problems:
        lines.append(f"  FAIL delivery: {p}")
    if result.data_dir is not None:
        lines.append(f"  archive: {result.data_dir} (server.db alerts, spectra/*.h5, evidence/*/*.sigmf-meta, "
                     f"summary.json)")
    n_inc = sum(1 for o in result.outcomes if not o.expectation.is_traffic)
    n_traffic = len(result.outcomes) - n_inc
    if result.passed:
        lines.append(f"  RESULT: all {n_inc} incidents raised the expected alerts to the expected provinces; "
                     f"{n_traffic} licensed stations raised nothing; nothing lost.")
    else:
        lines.append("  RESULT: the network did NOT conclude what the scenario expects (see FAIL lines).")
    return "\n".join(lines) + "\n"


def make_view(out: TextIO, *, live: bool | None = None) -> LiveView | LogView:
    """The live view on a terminal, the log view otherwise."""
    is_tty = out.isatty() if live is None else live
    return LiveView(out) if is_tty else LogView(out)

