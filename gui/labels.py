"""Display names for codes that travel on the wire (provinces, verdicts, severities, services, states, bands).

The wire and the stores carry stable codes ("ZJ", "cross_border"); the console shows names, each
through Qt's translation (context ``labels``) so the Chinese catalogue can say 浙江 / 跨省干扰.
Unknown codes are shown as they are.
"""

from __future__ import annotations

from PySide6.QtGui import QColor

from gui.i18n import translate


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Mark ``text`` for lupdate under ``context`` and return it unchanged.

    Same name and behaviour as PySide6's marker (lupdate looks for the name), but typed ``str``:
    the stubs declare PySide6's returning ``object``, which would untype every label table.
    """
    return text

_CTX = "labels"

PROVINCES: dict[str, str] = {
    "SH": QT_TRANSLATE_NOOP("labels", "Shanghai"),
    "JS": QT_TRANSLATE_NOOP("labels", "Jiangsu"),
    "ZJ": QT_TRANSLATE_NOOP("labels", "Zhejiang"),
    "AH": QT_TRANSLATE_NOOP("labels", "Anhui"),
}
VERDICTS: dict[str, str] = {
    "unlicensed": QT_TRANSLATE_NOOP("labels", "unlicensed emission"),
    "cross_border": QT_TRANSLATE_NOOP("labels", "cross-border interference"),
    "licence_violation": QT_TRANSLATE_NOOP("labels", "licence violation"),
}
SEVERITIES: dict[str, str] = {
    "critical": QT_TRANSLATE_NOOP("labels", "critical"),
    "major": QT_TRANSLATE_NOOP("labels", "major"),
    "minor": QT_TRANSLATE_NOOP("labels", "minor"),
    "info": QT_TRANSLATE_NOOP("labels", "info"),
}
STATES: dict[str, str] = {
    "open": QT_TRANSLATE_NOOP("labels", "open"),
    "acknowledged": QT_TRANSLATE_NOOP("labels", "acknowledged"),
    "resolved": QT_TRANSLATE_NOOP("labels", "resolved"),
    "live": QT_TRANSLATE_NOOP("labels", "live"),
    "late": QT_TRANSLATE_NOOP("labels", "late"),
    "down": QT_TRANSLATE_NOOP("labels", "down"),
}
# A case's state, or its outcome once closed (coordination.cases STATES and OUTCOMES). A context of its own:
# a case still "open" is not closed yet (未结案), where an "open" alert is not handled yet (未处理).
CASE_STATES: dict[str, str] = {
    "open": QT_TRANSLATE_NOOP("case_states", "open"),
    "closed": QT_TRANSLATE_NOOP("case_states", "closed"),
    "merged": QT_TRANSLATE_NOOP("case_states", "merged"),
    "stopped": QT_TRANSLATE_NOOP("case_states", "stopped"),
    "licence_amended": QT_TRANSLATE_NOOP("case_states", "licence amended"),
    "penalised": QT_TRANSLATE_NOOP("case_states", "penalised"),
    "referred": QT_TRANSLATE_NOOP("case_states", "referred"),
    "not_found": QT_TRANSLATE_NOOP("case_states", "not found"),
}
SERVICES: dict[str, str] = {
    "broadcast": QT_TRANSLATE_NOOP("labels", "broadcast"),
    "land_mobile": QT_TRANSLATE_NOOP("labels", "land mobile"),
    "aeronautical": QT_TRANSLATE_NOOP("labels", "aeronautical"),
    "maritime": QT_TRANSLATE_NOOP("labels", "maritime"),
    "railway": QT_TRANSLATE_NOOP("labels", "railway"),
    "public_mobile": QT_TRANSLATE_NOOP("labels", "public mobile"),
    "fixed": QT_TRANSLATE_NOOP("labels", "fixed"),
    "other": QT_TRANSLATE_NOOP("labels", "other"),
}

STATION_STATUSES: dict[str, str] = {
    "active": QT_TRANSLATE_NOOP("labels", "active"),
    "planned": QT_TRANSLATE_NOOP("labels", "planned"),
    "suspended": QT_TRANSLATE_NOOP("labels", "suspended"),
    "expired": QT_TRANSLATE_NOOP("labels", "expired"),
}

#: Band names of the shipped coordination rules (station_db/data/rules.toml); the wire and the
#: rules carry the English name, the console shows its translation (e.g. 水上甚高频).
BANDS: dict[str, str] = {name: name for name in (
    QT_TRANSLATE_NOOP("labels", "VHF low land mobile"),
    QT_TRANSLATE_NOOP("labels", "VHF mid land mobile"),
    QT_TRANSLATE_NOOP("labels", "FM broadcast"),
    QT_TRANSLATE_NOOP("labels", "Aeronautical VHF (airband)"),
    QT_TRANSLATE_NOOP("labels", "PMR 150 (VHF high land mobile)"),
    QT_TRANSLATE_NOOP("labels", "Maritime VHF"),
    QT_TRANSLATE_NOOP("labels", "VHF high land mobile (upper)"),
    QT_TRANSLATE_NOOP("labels", "UHF 380 land mobile (TETRA/PDT)"),
    QT_TRANSLATE_NOOP("labels", "PMR 400"),
    QT_TRANSLATE_NOOP("labels", "Public mobile 900"),
    QT_TRANSLATE_NOOP("labels", "Public mobile 1800"),
)}

#: Row/marker colours per severity (background-friendly, readable with black text).
SEVERITY_COLOURS: dict[str, str] = {"critical": "#ff4d4d", "major": "#ff9f40", "minor": "#ffe066",
                                    "info": "#9ecbff"}
STATUS_COLOURS: dict[str, str] = {"live": "#40e080", "late": "#ffc040", "down": "#ff5050"}


def _name(table: dict[str, str], code: str | None, context: str = _CTX) -> str:
    if code is None:
        return ""
    text = table.get(code)
    return translate(context, text) if text is not None else str(code)


def province_name(code: str | None) -> str:
    return _name(PROVINCES, code)


def provinces_text(codes: list[str] | tuple[str, ...] | None) -> str:
    return ", ".join(province_name(c) for c in codes or ())


def verdict_name(code: str | None) -> str:
    return _name(VERDICTS, code)


def severity_name(code: str | None) -> str:
    return _name(SEVERITIES, code)


def state_name(code: str | None) -> str:
    return _name(STATES, code)


def case_state_name(code: str | None) -> str:
    """A case's state or outcome code (``open``, ``stopped`` ...) as the console shows it."""
    return _name(CASE_STATES, code, "case_states")


def service_name(code: str | None) -> str:
    return _name(SERVICES, code)


def station_status_name(code: str | None) -> str:
    return _name(STATION_STATUSES, code)


def band_name(name: str | None) -> str:
    """A rules band's display name (bands not in the shipped rules are shown as named)."""
    return _name(BANDS, name)


def severity_colour(code: str | None) -> QColor:
    return QColor(SEVERITY_COLOURS.get(code or "", "#d0d0d0"))


def format_mhz(freq_hz: float | None, decimals: int = 4) -> str:
    return "" if freq_hz is None else f"{float(freq_hz) / 1e6:.{decimals}f}"
