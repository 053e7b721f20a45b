"""The emission class a sensor measured against the one a licence's emission designator allows.

A designator (ITU Radio Regulations Appendix 1) states the modulation of the main carrier (first
symbol), the nature of the modulating signal (second) and the information sent (third): ``11K0F3E``
is FM telephony, ``7K60FXE`` digital FM telephony (DMR: 4-FSK), ``16K0F1D`` FSK data, ``6K00A3E`` AM
telephony. This module maps a designator to the measured classes of
:mod:`dsp.classify` that are compatible with it, and says when a measurement contradicts the licence:
a station that transmits a different kind of emission from its licence. It is a finding for an
engineer to look at, not a verdict: the classifier has a confidence and some classes overlap (GMSK
is phase modulation and looks like 2-FSK; Morse looks like CW or OOK).

Designators this does not judge (SSB and other amplitude variants, pulses, ``X`` "other") give no
expectation, and neither does an ``unknown`` measurement or one below ``min_confidence``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from station_db.designator import DesignatorError, parse_designator

#: Necessary bandwidth (Hz) from which an F3E/F8E/F9W telephony/sound emission is broadcast FM.
BROADCAST_FM_MIN_HZ = 100e3
#: Measured classes below this confidence are not compared.
MIN_CONFIDENCE = 0.6

_DIGITAL_FM = frozenset({"2fsk", "4fsk"})
_DIGITAL_LINEAR = frozenset({"wideband_digital"})


@dataclass(frozen=True)
class ClassCheck:
    """What a licence allows and whether a measurement agrees."""

    designator: str
    expected: frozenset[str]  # compatible measured classes (empty: the designator is not judged)
    measured: str
    confidence: float
    finding: str | None  # the text for the assessment when the measurement contradicts the licence


def expected_classes(designator: str) -> frozenset[str]:
    """Measured classes compatible with a designator (empty when it is not judged or not parseable)."""
    try:
        d = parse_designator(designator)
    except DesignatorError:
        return frozenset()
    mod, nature, info = d.modulation, d.nature, d.information
    digital = nature in ("1", "2", "7")
    if mod == "N":
        return frozenset({"cw"})
    if mod == "A":
        if info in ("A", "B") and nature in ("1", "2"):  # keyed telegraphy (Morse, aural or automatic)
            return frozenset({"cw", "ook_ask"})
        if digital:
            return frozenset({"ook_ask"})
        return frozenset({"am"})
    if mod == "F":
        if nature in ("3", "8", "9"):  # analogue (or composite) sound: broadcast by its width
            return frozenset({"fm_broadcast"} if d.necessary_bw_hz >= BROADCAST_FM_MIN_HZ else {"nfm"})
        if digital or nature == "X":
            return _DIGITAL_FM
        return frozenset()
    if mod == "G":  # phase modulation: PSK (linear), or GMSK which looks like 2-FSK
        return _DIGITAL_LINEAR | {"2fsk"} if digital or nature == "X" else frozenset({"nfm"})
    if mod in ("D", "W") and (digital or nature == "X"):  # amplitude and angle together: QAM, OFDM
        return _DIGITAL_LINEAR | {"noise_like"}
    return frozenset()


def check_class(designator: str, measured: str, confidence: float,
                min_confidence: float = MIN_CONFIDENCE) -> ClassCheck:
    """Compare a measured class (and its confidence) with a licence's designator."""
    expected = expected_classes(designator)
    finding = None
    if expected and measured not in ("", "unknown") and confidence >= min_confidence and measured not in expected:
        finding = (f"emission class: measured {measured} (confidence {confidence:.2f}) where the licence's "
                   f"{designator} expects {' or '.join(sorted(expected))}")
    return ClassCheck(designator, expected, measured, float(confidence), finding)


#: Measured classes of a frequency-modulated emission, whose envelope is constant: FM broadcast and narrowband FM.
#: Not FSK: its instantaneous frequency dwells on two or four tones, so its envelope samples the channel at those
#: few frequencies only, too few for the curvature the TDOA chain reads a link's pull from (dsp.fm_multipath).
FM_CLASSES = frozenset({"fm_broadcast", "nfm"})


def target_is_fm(sights: Iterable[tuple[str | None, float | None]], min_confidence: float = MIN_CONFIDENCE) -> bool:
    """Whether the sensors' measured classes say the emission is FM, for a TDOA round (``target_fm`` of
    :func:`coordination.tdoa.locate_tdoa`): each sight is one sensor's (class, confidence).

    Why a rule and not the band: an FM target's links are read from their envelopes and their pulls removed (a
    few tens of metres off an FM fix's median); a data carrier read that way is not FM, and a root-raised-cosine
    QPSK carrier, whose envelope is nearly as flat, read a 900 m pull (dsp/tdoa_pair.py). A wrong "FM" costs far
    more than a missed one. FM when every sensor that named a class named an FM one (``FM_CLASSES``), whatever
    its confidence, and at least one of them with ``min_confidence`` or more (the bar at which a measured class
    is compared with a licence; a live sensor's spectrum-only class reaches at most 0.7, its coin toss 0.35).
    ``unknown`` (or no class sent) does not vote; no confident FM sight: not FM.

    Why every named class and not a majority: a live sensor reads a QPSK carrier near its detection limit as
    ``fm_broadcast`` at its full 0.7 now and then, sensor by sensor, while the others hearing the same carrier
    name it ``wideband_digital`` with 0.4-0.55 (the pipeline's spectrum-only classes on dev seeds 7700-7711, four
    sensors at 8-16 dB each: 5 of 48 QPSK sights read FM, in 5 of 12 carriers, never all of a carrier's; a
    confidence-weighted majority of the sights over 0.6 read 4 of the 12 carriers FM, this rule none; FM
    broadcast 32 of 32 sights ``fm_broadcast`` at 0.7).
    """
    named = [(str(c), float(p or 0.0)) for c, p in sights if c is not None and c != "unknown"]
    return (bool(named) and all(c in FM_CLASSES for c, _ in named)
            and max(p for _, p in named) >= min_confidence)
