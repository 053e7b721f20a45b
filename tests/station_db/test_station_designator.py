"""Emission designators: necessary bandwidth per ITU-R SM.1138 / RR Appendix 1."""

from __future__ import annotations

import pytest

from station_db.designator import (
    DesignatorError,
    format_bandwidth,
    necessary_bandwidth_hz,
    parse_bandwidth_hz,
    parse_designator,
)


@pytest.mark.parametrize(
    ("designator", "bw_hz"),
    [
        ("16K0F3E", 16_000.0),
        ("25K0G7W", 25_000.0),
        ("180KF3E", 180_000.0),
        ("8K50F3E", 8_500.0),
        ("200KF8E", 200_000.0),
        ("1M25G7W", 1_250_000.0),
        ("6K00A3E", 6_000.0),
        ("11K0F3E", 11_000.0),
        ("12K5F3E", 12_500.0),
        ("7K60FXE", 7_600.0),
        ("2K40J3E", 2_400.0),
        ("400HA1A", 400.0),
        ("25H3J3E", 25.3),
        ("H002N0N", 0.002),
        ("10M0G7W", 10e6),
        ("5G65G7W", 5.65e9),
        ("16k0f3e", 16_000.0),  # lower case is accepted and normalised
        ("7K60FXDCN", 7_600.0),  # with the two optional symbols
    ],
)
def test_necessary_bandwidth_from_designator(designator: str, bw_hz: float) -> None:
    assert necessary_bandwidth_hz(designator) == pytest.approx(bw_hz, rel=1e-12)


def test_parse_splits_the_class_symbols() -> None:
    d = parse_designator("25k0g7w")
    assert (d.text, d.modulation, d.nature, d.information, d.details) == ("25K0G7W", "G", "7", "W", "")
    assert d.emission_class == "G7W"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("16K0", "not an emission designator"),
        ("16KOF3E", "not an emission designator"),  # letter O for zero
        ("0K16F3E", "must not start with 0"),
        ("K160F3E", "may start with a letter only for H"),
        ("1600F3E", "three digits and one unit letter"),
        ("16KKF3E", "three digits and one unit letter"),
        ("16K0Z3E", "unknown modulation symbol 'Z'"),
        ("16K0F5E", "unknown nature-of-signal symbol '5'"),
        ("16K0F3Z", "unknown type-of-information symbol 'Z'"),
        ("16K0F3EZ", "unknown signal-detail symbol 'Z'"),
        ("16K0F3EAZ", "unknown multiplexing symbol 'Z'"),
        ("H000N0N", "is zero"),
    ],
)
def test_bad_designators_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DesignatorError, match=message):
        parse_designator(text)


@pytest.mark.parametrize(
    ("bw_hz", "code"),
    [(16e3, "16K0"), (180e3, "180K"), (8.5e3, "8K50"), (1.25e6, "1M25"), (12.5e3, "12K5"), (400.0, "400H"),
     (25.3, "25H3"), (0.002, "H002"), (999.9e3, "1M00"), (5.65e9, "5G65")],
)
def test_format_bandwidth_inverts_parse(bw_hz: float, code: str) -> None:
    assert format_bandwidth(bw_hz) == code
    assert parse_bandwidth_hz(code) == pytest.approx(float(f"{bw_hz:.3g}"))
