"""Emission designators (ITU Radio Regulations Appendix 1, ITU-R SM.1138) and their bandwidth.

A designator such as ``16K0F3E`` is four characters of necessary bandwidth (three digits and a
unit letter H/K/M/G standing in for the decimal point: ``16K0`` = 16 kHz, ``1M25`` = 1.25 MHz,
``180K`` = 180 kHz, ``H002`` = 0.002 Hz) followed by the three-symbol class (main-carrier
modulation, nature of the modulating signal, type of information) and up to two optional
symbols (details of the signal, multiplexing). Monitoring compares measured occupied bandwidth
against the licensed necessary bandwidth, so this is parsed once on import and stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNIT_HZ = {"H": 1.0, "K": 1e3, "M": 1e6, "G": 1e9}

MODULATION_SYMBOLS = "NAHRJBCFGDPKLMQVWX"
"""First symbol of the class: type of modulation of the main carrier (RR Appendix 1, Section II)."""
NATURE_SYMBOLS = "0123789X"
"""Second symbol: nature of the signal(s) modulating the main carrier."""
INFORMATION_SYMBOLS = "NABCDEFWX"
"""Third symbol: type of information to be transmitted."""
DETAIL_SYMBOLS = "ABCDEFGHJKLMNWX"
"""Optional fourth symbol: details of the signal(s)."""
MULTIPLEX_SYMBOLS = "NCFTWX"
"""Optional fifth symbol: nature of multiplexing."""

_PATTERN = re.compile(r"^(?P<bw>[0-9HKMG]{4})(?P<cls>[A-Z][0-9X][A-Z])(?P<extra>[A-Z]{0,2})$")


class DesignatorError(ValueError):
    """The text is not a valid emission designator; the message says which part is wrong."""


@dataclass(frozen=True)
class EmissionDesignator:
    """A parsed emission designator."""

    text: str
    necessary_bw_hz: float
    modulation: str
    nature: str
    information: str
    details: str = ""

    @property
    def emission_class(self) -> str:
        """The three mandatory class symbols, e.g. ``F3E``."""
        return self.modulation + self.nature + self.information


def parse_bandwidth_hz(code: str) -> float:
    """Necessary bandwidth in Hz from the four-character bandwidth part (``12K5`` -> 12500.0)."""
    if len(code) != 4:
        raise DesignatorError(f"bandwidth part {code!r} must have 4 characters (e.g. 16K0, 180K, 1M25)")
    letters = [i for i, ch in enumerate(code) if ch in _UNIT_HZ]
    if len(letters) != 1 or sum(ch.isdigit() for ch in code) != 3:
        raise DesignatorError(
            f"bandwidth part {code!r} needs three digits and one unit letter H, K, M or G (e.g. 16K0)"
        )
    pos = letters[0]
    unit = code[pos]
    if code[0] == "0":
        raise DesignatorError(f"bandwidth part {code!r} must not start with 0 (RR Appendix 1)")
    if pos == 0 and unit != "H":
        raise DesignatorError(f"bandwidth part {code!r} may start with a letter only for H (below 1 Hz)")
    value = float(f"{code[:pos] or '0'}.{code[pos + 1:] or '0'}")
    if value <= 0.0:
        raise DesignatorError(f"bandwidth part {code!r} is zero")
    return value * _UNIT_HZ[unit]


def parse_designator(text: str) -> EmissionDesignator:
    """Parse a designator such as ``16K0F3E`` or ``25K0G7W``; raise :class:`DesignatorError`."""
    raw = text.strip().upper()
    m = _PATTERN.match(raw)
    if m is None:
        raise DesignatorError(
            f"{text!r} is not an emission designator: expected 4 bandwidth characters, then 3 class "
            "symbols and up to 2 optional ones (e.g. 16K0F3E, 180KF3E, 1M25G7W)"
        )
    bw_hz = parse_bandwidth_hz(m["bw"])
    symbols = m["cls"]
    modulation, nature, information = symbols[0], symbols[1], symbols[2]
    if modulation not in MODULATION_SYMBOLS:
        raise DesignatorError(f"{text!r}: unknown modulation symbol {modulation!r}")
    if nature not in NATURE_SYMBOLS:
        raise DesignatorError(f"{text!r}: unknown nature-of-signal symbol {nature!r}")
    if information not in INFORMATION_SYMBOLS:
        raise DesignatorError(f"{text!r}: unknown type-of-information symbol {information!r}")
    extra = m["extra"]
    if extra[:1] and extra[0] not in DETAIL_SYMBOLS:
        raise DesignatorError(f"{text!r}: unknown signal-detail symbol {extra[0]!r}")
    if extra[1:] and extra[1] not in MULTIPLEX_SYMBOLS:
        raise DesignatorError(f"{text!r}: unknown multiplexing symbol {extra[1]!r}")
    return EmissionDesignator(raw, bw_hz, modulation, nature, information, extra)


def necessary_bandwidth_hz(text: str) -> float:
    """Necessary bandwidth in Hz of a designator (``16K0F3E`` -> 16000.0)."""
    return parse_designator(text).necessary_bw_hz


def format_bandwidth(bw_hz: float) -> str:
    """The four-character bandwidth code for ``bw_hz`` (inverse of :func:`parse_bandwidth_hz`).

    Rounds to three significant digits, as the Radio Regulations do.
    """
    if bw_hz <= 0:
        raise DesignatorError(f"bandwidth {bw_hz} Hz must be positive")
    bw_hz = float(f"{bw_hz:.3g}")  # round first so 999.9 kHz becomes 1M00, not 1000K
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3), ("H", 1.0)):
        value = bw_hz / scale
        if value >= 1.0 or unit == "H":
            break
    if value < 1.0:  # below 1 Hz: H followed by three decimals
        return "H" + f"{round(value * 1000):03d}"
    digits = f"{value:.3g}"
    integer, _, frac = digits.partition(".")
    code = integer + unit + frac
    return (code + "000")[:4] if len(code) < 4 else code[:4]
