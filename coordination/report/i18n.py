"""Report language: every user-visible string goes through one gettext translator.

The catalogue is the standard library's mechanism (GNU gettext ``.po`` source compiled to ``.mo``,
domain ``borderwatch``) shipped in ``coordination/report/locale``; ``--lang zh_CN`` only selects it.
Codes stored in the data (provinces, verdicts, services, states, severities, band names) are
translated for display through :func:`label`, never in machine-readable exports.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path

DOMAIN = "borderwatch"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh_CN")

Translate = Callable[[str], str]


class UnknownLanguageError(ValueError):
    """A report language the project has no catalogue for."""


def N_(text: str) -> str:
    """Mark a string for the catalogue without translating it here (translated where shown)."""
    return text


def translator(lang: str | None) -> Translate:
    """The ``_()`` of a report language (``en`` or None: identity)."""
    if lang in (None, "", "en", "C"):
        return lambda s: s
    if lang not in LANGUAGES:
        raise UnknownLanguageError(f"--lang {lang!r}: reports are available in {', '.join(LANGUAGES)}")
    try:
        t = gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang])
    except OSError as exc:
        raise UnknownLanguageError(f"--lang {lang}: catalogue missing under {LOCALE_DIR} ({exc})") from exc
    return t.gettext


# Codes of the data, marked for the catalogue; shown through label().
CODE_LABELS: dict[str, str] = {
    # provinces
    "SH": N_("Shanghai"), "JS": N_("Jiangsu"), "ZJ": N_("Zhejiang"), "AH": N_("Anhui"),
    # verdicts
    "unlicensed": N_("unlicensed emission"), "cross_border": N_("cross-border interference"),
    "licence_violation": N_("licence violation"),
    # alert states and severities
    "open": N_("open"), "acknowledged": N_("acknowledged"), "resolved": N_("resolved"),
    "critical": N_("critical"), "major": N_("major"), "minor": N_("minor"), "info": N_("info"),
    # services
    "land_mobile": N_("land mobile"), "broadcast": N_("broadcasting"), "aeronautical": N_("aeronautical"),
    "maritime": N_("maritime"), "public_mobile": N_("public mobile"),
    # coordination requests and answers
    "concluded": N_("concluded"), "withdrawn": N_("withdrawn"), "waiting": N_("waiting"), "agreed": N_("agreed"),
    "objected": N_("objected"), "lapsed": N_("no answer by the deadline"),
    # station check outcome
    "heard_expected": N_("heard where expected"), "not_heard": N_("expected, not heard"),
    "heard_unexpected": N_("heard, not expected"), "not_expected": N_("not expected, not heard"),
    # what gave an alert's position
    "rss": N_("received levels"), "tdoa": N_("time differences (TDOA)"), "fused": N_("levels + TDOA"),
}

# Band names of the shipped coordination rules (station_db/data/rules.toml).
BAND_NAMES: tuple[str, ...] = (
    N_("VHF low land mobile"), N_("VHF mid land mobile"), N_("FM broadcast"), N_("Aeronautical VHF (airband)"),
    N_("PMR 150 (VHF high land mobile)"), N_("Maritime VHF"), N_("VHF high land mobile (upper)"),
    N_("UHF 380 land mobile (TETRA/PDT)"), N_("PMR 400"), N_("Public mobile 900"), N_("Public mobile 1800"),
)


def label(code: str, _: Translate) -> str:
    """Display text of a data code (unknown codes are shown as they are)."""
    if code in CODE_LABELS:
        return _(CODE_LABELS[code])
    return _(code) if code in BAND_NAMES else code
