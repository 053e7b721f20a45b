"""PNG plots of a report (matplotlib, Agg backend, no pyplot global state: safe in any thread).

Every function returns PNG bytes. Labels go through the report's translator; for Chinese a CJK
font is looked up (Noto Sans CJK, Source Han, WenQuanYi...). Without one the plots fall back to
English labels rather than drawing boxes, and :func:`cjk_font` says so (the report adds a note).
"""

from __future__ import annotations

import glob
import io
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
from matplotlib import dates as mdates
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from coordination.report.i18n import Translate, label
from coordination.report.model import AlertSummary, Availability, SiteBand, Spectrogram

log = logging.getLogger(__name__)

CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Micro Hei",
                "WenQuanYi Zen Hei", "Noto Sans CJK JP", "Noto Serif CJK SC", "AR PL UMing CN")
CJK_FONT_GLOBS = ("/usr/share/fonts/**/NotoSansCJK*.tt[cf]", "/usr/share/fonts/**/NotoSansCJK*.otf",
                  "/usr/share/fonts/**/wqy*.tt[cf]", "/usr/share/fonts/**/SourceHanSans*.otf")
DPI = 96
MAX_BARS = 150
"""Above this many channels the FCO plot draws a step line instead of bars."""
MAX_COLUMNS = 1600
"""Spectrogram columns drawn at most (max-hold over neighbouring bins beyond)."""


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Family name of an installed CJK-capable font, or None (then Chinese plots use English labels)."""
    def known() -> set[str]:
        return {f.name for f in font_manager.fontManager.ttflist}

    names = known()
    for fam in CJK_FAMILIES:
        if fam in names:
            return fam
    for pattern in CJK_FONT_GLOBS:  # installed after matplotlib built its font cache
        for path in glob.glob(pattern, recursive=True):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                log.debug("cannot load font %s", path, exc_info=True)
    names = known()
    for fam in CJK_FAMILIES:
        if fam in names:
            return fam
    log.warning("no CJK font found (install fonts-noto-cjk): Chinese report plots keep English labels")
    return None


def plot_translator(_: Translate, lang: str | None) -> tuple[Translate, str | None]:
    """(translator for plot text, font family) - English when Chinese cannot be drawn."""
    if lang in (None, "", "en", "C"):
        return _, None
    fam = cjk_font()
    return (_, fam) if fam else ((lambda s: s), None)


def _figure(font: str | None, w_in: float = 8.0, h_in: float = 3.4) -> Figure:
    """A standalone figure with its own Agg canvas (``font`` is applied by :func:`_style_text`)."""
    fig = Figure(figsize=(w_in, h_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _style_text(fig: Figure, font: str | None) -> None:
    """Apply the font to every text of the figure (titles, labels, ticks, legends)."""
    if not font:
        return
    for text in fig.findobj(match=Text):
        if isinstance(text, Text):
            text.set_fontfamily([font, "DejaVu Sans"])


def fco_plot(sb: SiteBand, _: Translate, lang: str | None = None) -> bytes:
    """FCO per channel with its 95 % Wilson interval (SM.1880)."""
    t, font = plot_translator(_, lang)
    fig = _figure(font)
    ax = fig.add_subplot()
    occ = sb.occupancy
    if occ is not None and occ.channel_centers_hz.size:
        f_mhz = occ.channel_centers_hz / 1e6
        lo, hi = occ.ci
        fco = occ.fco
        if fco.size <= MAX_BARS:
            width = (sb.band.raster_hz / 1e6) * 0.8
            ax.bar(f_mhz, fco * 100.0, width=width, color="#1f77b4", label=t("FCO"))
            ax.errorbar(f_mhz, fco * 100.0, yerr=[(fco - lo) * 100.0, (hi - fco) * 100.0], fmt="none",
                        ecolor="#d62728", elinewidth=0.8, capsize=1.5, label=t("95 % confidence interval"))
        else:  # thousands of channels: a step line with the interval as a band
            ax.fill_between(f_mhz, lo * 100.0, hi * 100.0, step="mid", color="#d62728", alpha=0.3, linewidth=0,
                            label=t("95 % confidence interval"))
            ax.step(f_mhz, fco * 100.0, where="mid", color="#1f77b4", linewidth=0.8, label=t("FCO"))
        ax.set_ylim(0, 100)
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel(t("Frequency (MHz)"))
    ax.set_ylabel(t("Channel occupancy FCO (%)"))
    ax.set_title(f"{sb.site.sensor_id} · {label(sb.band.name, t)}", fontsize=10)
    ax.grid(alpha=0.3)
    _style_text(fig, font)
    return _png(fig)


def occupancy_time_plot(sbs: Sequence[SiteBand], _: Translate, lang: str | None = None) -> bytes:
    """Band occupancy (FBO) per measurement interval, one line per sensor."""
    t, font = plot_translator(_, lang)
    fig = _figure(font)
    ax = fig.add_subplot()
    for sb in sbs:
        if not sb.intervals:
            continue
        times = [iv.t_end_utc for iv in sb.intervals]
        ax.plot(np.asarray(times, dtype=object), [iv.fbo * 100.0 for iv in sb.intervals], marker=".", markersize=3,
                linewidth=1,
                label=f"{sb.site.sensor_id} ({label(sb.site.province, t)})")
    ax.set_xlabel(t("Time (UTC)"))
    ax.set_ylabel(t("Band occupancy FBO (%)"))
    if sbs:
        ax.set_title(label(sbs[0].band.name, t), fontsize=10)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    _style_text(fig, font)
    return _png(fig)


def spectrogram_plot(spec: Spectrogram, title: str, _: Translate, lang: str | None = None) -> bytes:
    """Max-hold spectrogram of the period: time down, frequency across, colour = dBm."""
    t, font = plot_translator(_, lang)
    fig = _figure(font, 8.0, 4.2)
    ax = fig.add_subplot()
    t_edges = mdates.date2num([datetime.fromtimestamp(float(x), UTC) for x in spec.t_edges_s])
    freqs, data_dbm = spec.freqs_hz, spec.max_dbm
    df = float(freqs[1] - freqs[0]) if freqs.size > 1 else 1.0
    k = -(-freqs.size // MAX_COLUMNS)
    if k > 1:  # more bins than pixels: keep the maximum of each group of k bins (emissions stay visible)
        n = freqs.size // k * k
        data_dbm = np.fmax.reduce(data_dbm[:, :n].reshape(data_dbm.shape[0], -1, k), axis=2)
        freqs, df = freqs[:n:k] + df * (k - 1) / 2.0, df * k
    f_edges = (np.concatenate((freqs, [freqs[-1] + df])) - df / 2.0) / 1e6
    data = np.ma.masked_invalid(data_dbm)
    finite = data_dbm[np.isfinite(data_dbm)]
    vmin, vmax = (np.percentile(finite, 2), np.percentile(finite, 99.8)) if finite.size else (-120, -40)
    mesh = ax.pcolormesh(f_edges, t_edges, data, shading="flat", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.yaxis_date()
    ax.yaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.yaxis.get_major_locator()))
    ax.invert_yaxis()
    ax.set_xlabel(t("Frequency (MHz)"))
    ax.set_ylabel(t("Time (UTC)"))
    ax.set_title(title, fontsize=10)
    cb = fig.colorbar(mesh, ax=ax)
    cb.set_label(t("Max-hold power (dBm)"))
    _style_text(fig, font)
    return _png(fig)


def alerts_plot(summary: AlertSummary, _: Translate, lang: str | None = None) -> bytes:
    """Alerts of the period by verdict and by province pair."""
    t, font = plot_translator(_, lang)
    fig = _figure(font, 8.0, 3.0)
    ax1, ax2 = fig.subplots(1, 2)
    v = summary.by_verdict
    ax1.barh([label(k, t) for k in v], list(v.values()), color="#d62728")
    ax1.set_title(t("Alerts by verdict"), fontsize=10)
    ax1.set_xlabel(t("Alerts"))
    p = summary.by_pair
    ax2.barh([pair_label(k, t) for k in p], list(p.values()), color="#ff7f0e")
    ax2.set_title(t("Alerts by province pair (source → affected)"), fontsize=10)
    ax2.set_xlabel(t("Alerts"))
    _style_text(fig, font)
    return _png(fig)


def pair_label(pair: str, t: Translate) -> str:
    src, _sep, aff = pair.partition("→")
    return "→".join("+".join(label(c, t) for c in part.split("+")) for part in (src, aff))


def availability_plot(avail: Sequence[Availability], start_s: float, end_s: float, _: Translate,
                      lang: str | None = None) -> bytes:
    """One bar per sensor: green when the sensor was reporting, gaps left empty."""
    t, font = plot_translator(_, lang)
    fig = _figure(font, 8.0, max(1.6, 0.45 * len(avail) + 1.0))
    ax = fig.add_subplot()
    t0 = mdates.date2num(datetime.fromtimestamp(start_s, UTC))
    t1 = mdates.date2num(datetime.fromtimestamp(end_s, UTC))
    for i, a in enumerate(avail):
        edges = [t0]
        for g0, g1 in a.gaps:
            edges += [mdates.date2num(g0), mdates.date2num(g1)]
        edges.append(t1)
        up = [(edges[k], edges[k + 1] - edges[k]) for k in range(0, len(edges) - 1, 2) if edges[k + 1] > edges[k]]
        if a.first_utc is not None:
            ax.broken_barh(up, (i - 0.35, 0.7), facecolors="#2ca02c")
    ax.set_yticks(range(len(avail)), [f"{a.sensor_id}" for a in avail])
    ax.set_xlim(t0, t1)
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_xlabel(t("Time (UTC)"))
    ax.set_title(t("Sensor availability"), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    _style_text(fig, font)
    return _png(fig)
