"""Self-contained HTML of a report: one file, CSS inline, plots as base64 PNG data URIs.

Every number shown also sits in a ``data-*`` attribute with full precision (``data-fco``,
``data-revisits``...), so tests and scripts can read the report back without parsing text that
depends on the language. All visible text goes through the translator ``_``.
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from html import escape

from coordination.report import plots
from coordination.report.i18n import Translate, label, translator
from coordination.report.model import AlertSummary, CoordinationSummary, Report, SiteBand

MAX_CHANNEL_ROWS = 60

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",system-ui,sans-serif;margin:2em;
color:#222;max-width:70em}
h1{font-size:1.6em}h2{border-bottom:2px solid #1f77b4;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#eef3f8}td.t,th.t{text-align:left}img{max-width:100%}p.plot{margin:.5em 0}
.note{color:#8a4b00}.muted{color:#777}
"""


def _e(x: object) -> str:
    return escape(str(x), quote=True)


def _img(png: bytes, alt: str, kind: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<p class="plot"><img data-plot="{_e(kind)}" alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


def _pct(x: float | None, nd: int = 1) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100.0 * x:.{nd}f} %"


def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if x is None or not math.isfinite(x) else fmt.format(x)


def _dur(s: float | None) -> str:
    if s is None:
        return "–"
    s = float(s)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _t(t: datetime | None) -> str:
    return "–" if t is None else t.strftime("%Y-%m-%d %H:%M:%S")


def _p(text: str, cls: str = "muted") -> str:
    return f'<p class="{cls}">{_e(text)}</p>'


def _table(headers: Sequence[str], rows: Iterable[str], cls: str = "") -> str:
    head = "".join(f'<th class="t">{_e(h)}</th>' if i == 0 else f"<th>{_e(h)}</th>" for i, h in enumerate(headers))
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _counts_table(title: str, counts: dict[str, int], kind: str, _: Translate,
                  fmt: Callable[[str], str] | None = None) -> str:
    rows = [f'<tr data-{kind}="{_e(k)}" data-count="{n}"><td class="t">{_e(fmt(k) if fmt else k)}</td><td>{n}</td></tr>'
            for k, n in counts.items()]
    return _table([title, _("Alerts")], rows or [f'<tr><td class="t" colspan="2">{_e(_("none"))}</td></tr>'],
                  f"counts-{kind}")


# ---------------------------------------------------------------------- sections


def _site_band(sb: SiteBand, _: Translate, lang: str | None) -> str:
    occ = sb.occupancy
    out = [f'<section class="site-band" data-sensor="{_e(sb.site.sensor_id)}" data-profile="{_e(sb.band.profile)}">',
           f"<h4>{_e(_('Sensor'))} {_e(sb.site.sensor_id)} · {_e(label(sb.site.province, _))}</h4>"]
    if occ is None:
        out.append(f'<p class="muted">{_e(_("No occupancy measured in the period."))}</p>')
    else:
        fco, (lo, hi) = occ.fco, occ.ci
        out.append(f'<p class="occ-summary" data-fbo="{occ.fbo:.6f}" data-revisits="{occ.max_revisits}" '
                   f'data-source="{_e(occ.source)}">'
                   f"{_e(_('Band occupancy FBO'))}: <b>{_pct(occ.fbo)}</b> · {_e(_('Revisits'))}: "
                   f"<b>{occ.max_revisits}</b> · {_e(_('Source'))}: {_e(_(occ.source))} · "
                   f"{_e(_('Median threshold'))}: {_num(sb.median_threshold_dbm)} dBm</p>")
        order = [k for k in range(fco.size) if occ.occupied[k] > 0]
        hidden = fco.size - len(order)
        if len(order) > MAX_CHANNEL_ROWS:
            keep = set(sorted(order, key=lambda k: -fco[k])[:MAX_CHANNEL_ROWS])
            hidden += len(order) - len(keep)
            order = [k for k in order if k in keep]
        rows = []
        for k in order:
            rows.append(f'<tr class="fco" data-channel-hz="{occ.channel_centers_hz[k]:.1f}" '
                        f'data-fco="{fco[k]:.6f}" data-ci-low="{lo[k]:.6f}" data-ci-high="{hi[k]:.6f}" '
                        f'data-revisits="{int(occ.revisits[k])}" data-occupied="{int(occ.occupied[k])}">'
                        f'<td class="t">{occ.channel_centers_hz[k] / 1e6:.4f}</td><td>{int(occ.revisits[k])}</td>'
                        f"<td>{int(occ.occupied[k])}</td><td>{_pct(fco[k])}</td>"
                        f"<td>{_pct(lo[k])} – {_pct(hi[k])}</td></tr>")
        out.append(_table([_("Channel (MHz)"), _("Revisits"), _("Occupied"), _("FCO"), _("95 % confidence interval")],
                          rows, "fco-table"))
        if hidden:
            out.append(_p(_("{n} other channels not listed (unoccupied or below the listed ones); "
                            "all channels are in the occupancy CSV.").format(n=hidden)))
        out.append(_img(plots.fco_plot(sb, _, lang), _("Channel occupancy FCO (%)"), "fco"))
    if sb.spectrogram is not None:
        title = f"{sb.site.sensor_id} · {label(sb.band.name, _)}"
        out.append(f'<p class="spectrogram" data-sweeps="{sb.spectrogram.sweeps}">{_e(_("Spectrogram of the period"))}'
                   f" ({_e(_('max hold'))}, {sb.spectrogram.sweeps} {_e(_('sweeps'))})</p>")
        out.append(_img(plots.spectrogram_plot(sb.spectrogram, title, _, lang), _("Spectrogram of the period"),
                        "spectrogram"))
    if sb.strongest:
        rows = [f'<tr class="strong" data-channel-hz="{s.channel_hz:.1f}" data-power-dbm="{s.power_dbm:.2f}" '
                f'data-detections="{s.detections}"><td class="t">{s.center_hz / 1e6:.4f}</td>'
                f"<td>{s.power_dbm:.1f}</td><td>{s.field_dbuv_m:.1f}</td><td>{s.bandwidth_hz / 1e3:.1f}</td>"
                f"<td>{s.detections}</td><td>{_t(s.first_utc)}</td><td>{_t(s.last_utc)}</td></tr>"
                for s in sb.strongest]
        out.append(f"<h5>{_e(_('Strongest emissions'))}</h5>")
        out.append(_table([_("Frequency (MHz)"), _("Power (dBm)"), _("Field strength (dBµV/m)"),
                           _("Bandwidth (kHz)"), _("Detections"), _("First seen (UTC)"), _("Last seen (UTC)")],
                          rows, "strongest"))
    out.append("</section>")
    return "\n".join(out)


def _occupancy_section(report: Report, _: Translate, lang: str | None) -> str:
    out = [f'<h2 id="occupancy">1. {_e(_("Spectrum occupancy per band and border area"))}</h2>',
           _p(_("ITU-R SM.1880: a channel is occupied in a revisit when its strongest bin exceeds "
                "the sweep threshold (noise floor + margin); 95 % Wilson score intervals."))]
    if not report.site_bands:
        out.append(f"<p>{_e(_('No measurements in the period.'))}</p>")
    for band in report.bands:
        sbs = [sb for sb in report.site_bands if sb.band == band]
        out.append(f'<section class="band" data-band="{_e(band.name)}">')
        service = f" · {label(band.service, _)}" if band.service else ""
        out.append(f"<h3>{_e(label(band.name, _))}{_e(service)} ({band.f_lo_hz / 1e6:.4f}–{band.f_hi_hz / 1e6:.4f} MHz,"
                   f" {_e(_('raster'))} {band.raster_hz / 1e3:g} kHz)</h3>")
        if any(sb.intervals for sb in sbs):
            out.append(f"<h4>{_e(_('Band occupancy over time'))}</h4>")
            out.append(_img(plots.occupancy_time_plot(sbs, _, lang), _("Band occupancy over time"), "fbo-time"))
        by_prov: dict[str, list[SiteBand]] = defaultdict(list)
        for sb in sbs:
            by_prov[sb.site.province].append(sb)
        for prov in sorted(by_prov):
            out.append(f"<h4>{_e(_('Border area'))}: {_e(label(prov, _))}</h4>")
            out.extend(_site_band(sb, _, lang) for sb in by_prov[prov])
        out.append("</section>")
    return "\n".join(out)


def _licensing_section(report: Report, _: Translate) -> str:
    out = [f'<h2 id="licensing">2. {_e(_("Licensed versus measured"))}</h2>']
    st = report.stations
    counts: dict[str, int] = defaultdict(int)
    for c in st:
        counts[c.status] += 1
    out.append('<p class="station-counts" ' + " ".join(f'data-{k.replace("_", "-")}="{counts.get(k, 0)}"' for k in
               ("heard_expected", "not_heard", "heard_unexpected", "not_expected")) + ">" +
               " · ".join(f"{_e(label(k, _))}: <b>{counts.get(k, 0)}</b>" for k in
                          ("heard_expected", "not_heard", "heard_unexpected")) + "</p>")
    rows = [f'<tr class="station" data-station="{_e(c.station_id)}" data-province="{_e(c.province)}" '
            f'data-status="{_e(c.status)}"><td class="t">{_e(c.station_id)}</td>'
            f'<td class="t">{_e(label(c.province, _))}</td><td class="t">{_e(c.licensee)}</td>'
            f'<td>{c.tx_freq_hz / 1e6:.4f}</td><td class="t">{_e(", ".join(c.expected_at) or "–")}</td>'
            f'<td class="t">{_e(", ".join(c.heard_at) or "–")}</td><td class="t">{_e(label(c.status, _))}</td></tr>'
            for c in st if c.status != "not_expected"]
    out.append(_table([_("Station"), _("Province"), _("Licensee"), _("Frequency (MHz)"), _("Expected at"),
                       _("Heard at"), _("Outcome")], rows, "stations"))
    out.append(f"<h3>{_e(_('Unlicensed emissions'))}</h3>")
    rows = [f'<tr class="unlicensed" data-sensor="{_e(u.sensor_id)}" data-channel-hz="{u.channel_hz:.1f}" '
            f'data-detections="{u.detections}"><td class="t">{_e(u.sensor_id)}</td><td class="t">{_e(label(u.band, _))}'
            f"</td><td>{u.channel_hz / 1e6:.4f}</td><td>{u.detections}</td><td>{u.max_field_dbuv_m:.1f}</td>"
            f"<td>{_t(u.first_utc)}</td><td>{_t(u.last_utc)}</td></tr>" for u in report.unlicensed]
    out.append(_table([_("Sensor"), _("Band"), _("Channel (MHz)"), _("Detections"), _("Max field strength (dBµV/m)"),
                       _("First seen (UTC)"), _("Last seen (UTC)")],
                      rows or [f'<tr><td class="t" colspan="7">{_e(_("none"))}</td></tr>'], "unlicensed"))
    return "\n".join(out)


def _alerts_section(a: AlertSummary, _: Translate, lang: str | None) -> str:
    out = [f'<h2 id="alerts">3. {_e(_("Alerts of the period"))}</h2>',
           f'<p class="alert-total" data-count="{len(a.rows)}">{_e(_("Alerts"))}: <b>{len(a.rows)}</b></p>']
    out.append(_counts_table(_("Verdict"), a.by_verdict, "verdict", _, lambda k: label(k, _)))
    out.append(_counts_table(_("Band"), a.by_band, "band", _, lambda k: label(k, _)))
    out.append(_counts_table(_("Province pair (source → affected)"), a.by_pair, "pair", _,
                             lambda k: plots.pair_label(k, _)))
    out.append(_counts_table(_("Severity"), a.by_severity, "severity", _, lambda k: label(k, _)))
    out.append(_counts_table(_("State"), a.by_state, "state", _, lambda k: label(k, _)))
    rows = []
    for name, st in ((_("Time to acknowledge"), a.ack), (_("Time to resolve"), a.resolve)):
        key = "ack" if st is a.ack else "resolve"
        rows.append(f'<tr class="response" data-kind="{key}" data-n="{st.n}" '
                    f'data-median-s="{_num(st.median_s, "{:.3f}")}" data-max-s="{_num(st.max_s, "{:.3f}")}">'
                    f'<td class="t">{_e(name)}</td><td>{st.n}</td>'
                    f"<td>{_dur(st.median_s)}</td><td>{_dur(st.max_s)}</td></tr>")
    out.append(_table([_("Response"), _("Alerts"), _("Median"), _("Maximum")], rows, "response"))
    out.append(_p(_("Time to acknowledge is exact when the alert records when it was acknowledged; "
                    "otherwise it is the last change of an acknowledged alert (an upper bound).")))
    if a.rows:
        out.append(_img(plots.alerts_plot(a, _, lang), _("Alerts by verdict"), "alerts"))
        rows = [f'<tr class="alert" data-id="{_e(r.id)}" data-ack-s="{_num(r.time_to_ack_s, "{:.3f}")}" '
                f'data-resolve-s="{_num(r.time_to_resolve_s, "{:.3f}")}"><td class="t">{_e(r.id)}</td>'
                f'<td class="t">{_e(", ".join(label(v, _) for v in r.verdicts))}</td>'
                f'<td class="t">{_e(label(r.band, _))}</td><td>{r.f_center_hz / 1e6:.4f}</td>'
                f'<td class="t">{_e(plots.pair_label(r.pair, _))}</td>'
                f'<td class="t">{_e(label(r.severity, _))}</td><td class="t">{_e(label(r.state, _))}</td>'
                f"<td>{_t(r.first_seen)}</td><td>{_dur(r.time_to_ack_s)}</td><td>{_dur(r.time_to_resolve_s)}</td>"
                f'<td class="t position-method" data-method="{_e(r.position_method)}">'
                f"{_e(label(r.position_method, _) if r.position_method else '—')}</td></tr>"
                for r in a.rows]
        out.append(_table([_("Alert"), _("Verdict"), _("Band"), _("Frequency (MHz)"),
                           _("Province pair (source → affected)"), _("Severity"), _("State"), _("First seen (UTC)"),
                           _("Time to acknowledge"), _("Time to resolve"), _("Position by")], rows, "alerts"))
    return "\n".join(out)


def _availability_section(report: Report, _: Translate, lang: str | None) -> str:
    out = [f'<h2 id="availability">4. {_e(_("Sensor availability"))}</h2>']
    rows = [f'<tr class="avail" data-sensor="{_e(a.sensor_id)}" data-uptime="{a.uptime_fraction:.6f}" '
            f'data-gaps="{len(a.gaps)}" data-sweeps="{a.sweeps}" data-heartbeats="{a.heartbeats}" '
            f'data-longest-gap-s="{a.longest_gap_s:.1f}" data-sample-drops="{a.sample_drops}" '
            f'data-spool-drops="{a.spool_drops}"><td class="t">{_e(a.sensor_id)}</td>'
            f'<td class="t">{_e(label(a.province, _))}</td><td>{_pct(a.uptime_fraction, 2)}</td><td>{len(a.gaps)}</td>'
            f"<td>{_dur(a.longest_gap_s)}</td><td>{a.sweeps}</td><td>{a.heartbeats}</td><td>{a.sample_drops}</td>"
            f"<td>{a.spool_drops}</td><td>{_t(a.first_utc)}</td><td>{_t(a.last_utc)}</td></tr>"
            for a in report.availability]
    out.append(_table([_("Sensor"), _("Province"), _("Uptime"), _("Gaps"), _("Longest gap"), _("Sweeps"),
                       _("Heartbeats"), _("Sample drops"), _("Spool drops"), _("First data (UTC)"),
                       _("Last data (UTC)")], rows, "availability"))
    out.append(_p(_("A gap is a silence (no sweep, no heartbeat) longer than three times the "
                    "usual spacing and at least a minute.")))
    if report.availability:
        end_s = report.period.end_s
        out.append(_img(plots.availability_plot(report.availability, report.period.start_s, end_s, _, lang),
                        _("Sensor availability"), "availability"))
    return "\n".join(out)


def _coordination_section(c: CoordinationSummary, _: Translate) -> str:
    out = [f'<h2 id="coordination">5. {_e(_("Coordination requests"))}</h2>',
           f'<p class="coord-total" data-count="{len(c.rows)}">{_e(_("Requests"))}: <b>{len(c.rows)}</b></p>']
    if not c.rows:
        out.append(_p(_("No coordination request in the period.")))
        return "\n".join(out)
    out.append(_counts_table(_("Request state"), c.by_state, "coord-state", _, lambda k: label(k, _)))
    out.append(_counts_table(_("Answers of the asked provinces"), c.by_answer, "coord-answer", _,
                             lambda k: label(k, _)))
    t = c.answer_time
    out.append(_table([_("Time to answer"), _("Answers"), _("Median"), _("Maximum")],
                      [f'<tr class="coord-time" data-n="{t.n}" data-median-s="{_num(t.median_s, "{:.3f}")}" '
                       f'data-max-s="{_num(t.max_s, "{:.3f}")}"><td class="t">{_e(_("Time to answer"))}</td>'
                       f"<td>{t.n}</td><td>{_dur(t.median_s)}</td><td>{_dur(t.max_s)}</td></tr>"], "coord-time"))
    rows = []
    for r in c.rows:
        answers = ", ".join(f"{label(p, _)}: {label(s, _)}" + (f" ({_dur(t)})" if t is not None else "")
                            for p, s, t in r.answers) or "-"
        rows.append(f'<tr class="coord" data-id="{_e(r.id)}" data-state="{_e(r.state)}"><td class="t">{_e(r.id)}</td>'
                    f'<td class="t">{_e(label(r.province, _))}</td><td class="t">{_e(r.station_id)}</td>'
                    f"<td>{r.tx_freq_hz / 1e6:.4f}</td><td class=\"t\">{_e(label(r.state, _))}</td>"
                    f"<td>{_t(r.submitted)}</td><td class=\"t\">{_e(answers)}</td></tr>")
    out.append(_table([_("Request"), _("Province"), _("Station"), _("Frequency (MHz)"), _("State"),
                       _("Submitted (UTC)"), _("Answers")], rows, "coord"))
    return "\n".join(out)


def render_html(report: Report, lang: str | None = None) -> str:
    """The whole report as one self-contained HTML document."""
    _ = translator(lang)
    notes = list(report.notes)
    if lang not in (None, "", "en") and plots.cjk_font() is None:
        notes.append(_("No CJK font installed: plot labels are in English (install fonts-noto-cjk)."))
    scope = [f"{_('Period (UTC)')}: {report.period.label()}"]
    scope.append(f"{_('Province')}: {label(report.province, _) if report.province else _('all')}")
    scope.append(f"{_('Band')}: {label(report.band_filter, _) if report.band_filter else _('all')}")
    html_lang = "zh-CN" if lang == "zh_CN" else "en"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{html_lang}"><head><meta charset="utf-8">',
        f"<title>{_e(_('Electromagnetic environment report'))} {_e(report.period.label())}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1>{_e(_("Electromagnetic environment report"))}</h1>',
        f'<p class="scope" data-period="{_e(report.period.label())}" data-province="{_e(report.province or "")}" '
        f'data-band="{_e(report.band_filter or "")}">{_e(" · ".join(scope))}</p>',
        f'<p class="muted">{_e(_("Generated"))} {_e(report.generated_utc.strftime("%Y-%m-%d %H:%M UTC"))} · '
        f'{_e(_("Sensors"))}: {len(report.sites)} · {_e(_("Bands"))}: {len(report.bands)} · '
        f'{_e(_("Alerts"))}: {len(report.alerts.rows)}</p>',
    ]
    parts += [f'<p class="note">{_e(_(n))}</p>' for n in notes]
    parts += [_occupancy_section(report, _, lang), _licensing_section(report, _),
              _alerts_section(report.alerts, _, lang), _availability_section(report, _, lang),
              _coordination_section(report.coordination, _), "</body></html>"]
    return "\n".join(parts)
