"""Reader for the ITU-R SG3 "Fryderyk_csv" path-profile format, and the P.1546 inputs it implies.

Why: the SG3 validation set (and measurement campaigns exchanged between administrations) come as
these files: a metadata header, a terrain profile (distance, ground height, coverage code, ground
cover height, radio-meteorological code) and measurement rows whose last columns hold the
reference prediction. This module parses them into a frozen :class:`PathProfile` and derives the
P.1546-6 inputs the way the SG3 reference results were produced:

* heights: the "Tx antenna height" column is the antenna at the profile's first point and
  "Rx antenna height" the one at its last point; "First Point TX or RX: R" means the first point is
  the receiver, so the profile is reversed and the two heights swap roles (Annex 5 section 1.1).
* heff (when the column is empty) = ha + ground height at the transmitter - mean terrain height
  between 3 and 15 km (section 3.2); hb uses the mean between 0.2 d and d (section 3.1.2). A mean
  is the trapezoidal integral over the profile points inside the interval divided by their span.
  On paths shorter than 15 km heff is taken equal to hb, so h1 = hb (the SG3 reference results).
* zones: from the radio-meteorological code (P.452 zones): 4 (inland) is land, 1 (sea) and
  3 (coastal land) count as sea, as the SG3 reference results do; where that code is missing or
  other, coverage code 1 (water/sea) marks sea. Each point covers half the interval to each
  neighbour, so a change of type is placed midway between two points.
* receiver area from the coverage code at the receiver: 1 Sea, 2 Rural, 3 Suburban, 4 Urban,
  5 Dense Urban; other codes (e.g. 0, unknown) are treated as Suburban (warned), as the reference
  results do. R1 and R2 are the ground cover heights at the transmitter and receiver.
* eff1_deg (section 4.3a): the largest elevation angle from the transmitting antenna to the
  terrain within 15 km (not beyond the receiver); tca_deg (section 11): the largest elevation
  angle from the receiving antenna to the terrain within 16 km (not beyond the transmitter); no
  Earth curvature. eff2_deg is taken equal to tca_deg.
* e.r.p. from "ERP_max_total" (dBW), else the larger of the horizontal and vertical values,
  else 1 kW (warned).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

_AREA_BY_CODE = {1: "Sea", 2: "Rural", 3: "Suburban", 4: "Urban", 5: "Dense Urban"}

# Columns of a measurement row (0-based).
_COL_F, _COL_HTX, _COL_HEFF, _COL_HRX = 0, 1, 2, 3
_COL_ERP_H, _COL_ERP_V, _COL_ERP_TOT = 10, 11, 12
_COL_T, _COL_E_REF, _COL_LB_REF = 14, 16, 17


class ProfileFormatError(ValueError):
    """A path profile file that does not follow the Fryderyk_csv layout (names file and line)."""


@dataclass(frozen=True)
class MeasurementRow:
    """One dataset of a profile file: the prediction inputs and the reference results it carries."""

    line: int
    f_mhz: float
    tx_height_m: float
    heff_m: float | None
    rx_height_m: float
    erp_dbw: float | None
    t_pct: float
    e_ref_dbuv_m: float | None
    lb_ref_db: float | None


@dataclass(frozen=True)
class ProfileInputs:
    """Everything :func:`coordination.propagation.p1546.field_strength` needs, derived from a profile."""

    f_mhz: float
    t_pct: float
    heff_m: float
    ha_m: float
    hb_m: float
    h2_m: float
    r1_m: float
    r2_m: float
    area: str
    erp_kw: float
    zone_lengths_km: tuple[float, ...]
    zone_types: tuple[str, ...]
    tca_deg: float
    eff1_deg: float
    eff2_deg: float
    htter_m: float
    hrter_m: float


@dataclass(frozen=True)
class PathProfile:
    """A parsed Fryderyk_csv file; arrays run from the profile's first point (see first_is_tx)."""

    source: str
    name: str
    first_is_tx: bool
    distance_km: NDArray[np.float64]
    height_m: NDArray[np.float64]
    coverage_code: NDArray[np.int64]
    cover_height_m: NDArray[np.float64]
    radio_met_code: NDArray[np.int64]
    measurements: tuple[MeasurementRow, ...]

    @property
    def length_km(self) -> float:
        return float(self.distance_km[-1] - self.distance_km[0])

    def inputs(self, dataset: int = 0, *, f_mhz: float | None = None, t_pct: float | None = None,
               ha_m: float | None = None, h2_m: float | None = None, erp_kw: float | None = None) -> ProfileInputs:
        """The P.1546 inputs for measurement row ``dataset`` (keywords override the row's values)."""
        row: MeasurementRow | None = None
        if self.measurements:
            if not 0 <= dataset < len(self.measurements):
                raise IndexError(f"{self.source}: dataset {dataset} not present (0..{len(self.measurements) - 1})")
            row = self.measurements[dataset]
        elif None in (f_mhz, t_pct, ha_m, h2_m):
            raise ValueError(f"{self.source}: no measurement rows; give f_mhz, t_pct, ha_m and h2_m")
        # Distances from the transmitter; terminal heights (first-point column, last-point column).
        x = self.distance_km - self.distance_km[0]
        h, code, cover, met = self.height_m, self.coverage_code, self.cover_height_m, self.radio_met_code
        first_h = row.tx_height_m if row else None
        last_h = row.rx_height_m if row else None
        heff_col = row.heff_m if row else None
        if not self.first_is_tx:
            x = x[-1] - x[::-1]
            h, code, cover, met = h[::-1], code[::-1], cover[::-1], met[::-1]
            first_h, last_h = last_h, first_h
            heff_col = None
        ha = float(ha_m if ha_m is not None else first_h)  # type: ignore[arg-type]
        h2 = float(h2_m if h2_m is not None else last_h)  # type: ignore[arg-type]
        d = float(x[-1])
        h_tx = float(h[0])
        hb = ha + h_tx - _mean_height(x, h, 0.2 * d, d)
        if heff_col is not None:
            heff = heff_col
        elif d >= 15.0:
            heff = ha + h_tx - _mean_height(x, h, 3.0, 15.0)
        else:
            heff = hb  # the 3-15 km mean does not exist on a shorter path; section 3.1.2 then gives h1 = hb
        zones, types = _zones(x, code, met)
        rx_code = int(code[-1])
        area = _AREA_BY_CODE.get(rx_code)
        if area is None:
            log.warning("%s: coverage code %d at the receiver is not 1-5; treated as Suburban", self.source, rx_code)
            area = "Suburban"
        erp_dbw = row.erp_dbw if row else None
        if erp_kw is None:
            if erp_dbw is None:
                log.warning("%s: no e.r.p. in the measurement row; 1 kW assumed", self.source)
                erp_kw = 1.0
            else:
                erp_kw = 10.0 ** ((erp_dbw - 30.0) / 10.0)
        tca = _clearance_angle_deg(d - x[::-1], h[::-1], float(h[-1]) + h2, 16.0)
        eff1 = _clearance_angle_deg(x, h, h_tx + ha, 15.0)
        return ProfileInputs(
            f_mhz=float(f_mhz if f_mhz is not None else row.f_mhz),  # type: ignore[union-attr]
            t_pct=float(t_pct if t_pct is not None else row.t_pct),  # type: ignore[union-attr]
            heff_m=float(heff), ha_m=ha, hb_m=float(hb), h2_m=h2,
            r1_m=float(cover[0]), r2_m=float(cover[-1]), area=area, erp_kw=float(erp_kw),
            zone_lengths_km=zones, zone_types=types, tca_deg=tca, eff1_deg=eff1, eff2_deg=tca,
            htter_m=h_tx, hrter_m=float(h[-1]))


def _mean_height(x: NDArray[np.float64], h: NDArray[np.float64], a: float, b: float) -> float:
    """Mean terrain height of the profile points between a and b km (trapezoidal, over their span).

    Only the points inside [a, b] take part (no interpolation at the ends), as in the SG3
    reference results; with fewer than two points the height interpolated at the middle is used.
    """
    sel = (x >= a) & (x <= b)
    xs, hs = x[sel], h[sel]
    if xs.size < 2 or xs[-1] <= xs[0]:
        return float(np.interp(0.5 * (a + b), x, h))
    return float(np.sum(0.5 * (hs[1:] + hs[:-1]) * np.diff(xs)) / (xs[-1] - xs[0]))


def _clearance_angle_deg(dist_km: NDArray[np.float64], h: NDArray[np.float64], h_antenna_m: float,
                         max_km: float) -> float:
    """Largest elevation angle (degrees) from an antenna to profile points 0 < dist <= max_km."""
    sel = (dist_km > 0.0) & (dist_km <= max_km)
    if not np.any(sel):
        return 0.0
    return float(np.max(np.degrees(np.arctan((h[sel] - h_antenna_m) / (1000.0 * dist_km[sel])))))


def _zones(x: NDArray[np.float64], code: NDArray[np.int64],
           met: NDArray[np.int64]) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Land/sea zones from the transmitter; a change of type sits midway between two points."""
    known = (met == 1) | (met == 3) | (met == 4)
    is_sea = np.where(known, met != 4, code == 1)
    edges = np.concatenate(([x[0]], 0.5 * (x[1:] + x[:-1]), [x[-1]]))
    lengths: list[float] = []
    types: list[str] = []
    for i in range(x.size):
        seg = float(edges[i + 1] - edges[i])
        kind = "Sea" if is_sea[i] else "Land"
        if types and types[-1] == kind:
            lengths[-1] += seg
        elif seg > 0.0:
            lengths.append(seg)
            types.append(kind)
    return tuple(lengths), tuple(types)


def _num(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    return float(text)


def read_profile(path: str | Path) -> PathProfile:
    """Parse a Fryderyk_csv profile file; raises ProfileFormatError naming file and line."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    name = lines[0].split(",")[0].strip() if lines else path.stem
    first_is_tx = True
    points: list[tuple[float, float, int, float, int]] = []
    rows: list[MeasurementRow] = []
    section = ""
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line.startswith("{"):
            tag = line.strip("{} ").lower()
            section = "profile" if tag == "begin of profile" else "meas" if tag == "begin of measurements" else ""
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            if section == "" and cells[0].lower().startswith("first point tx or rx"):
                first_is_tx = not (len(cells) > 1 and cells[1].upper().startswith("R"))
            elif section == "profile":
                if cells[0].lower().startswith("number of points") or len(cells) < 2 or not cells[0]:
                    continue
                code = _num(cells[2]) if len(cells) > 2 else None
                cover = _num(cells[3]) if len(cells) > 3 else None
                met = _num(cells[4]) if len(cells) > 4 else None
                points.append((float(cells[0]), float(cells[1]), int(code or 0), float(cover or 0.0), int(met or 0)))
            elif section == "meas":
                if len(cells) <= _COL_T or not cells[_COL_F]:
                    continue
                erp = _num(cells[_COL_ERP_TOT])
                if erp is None:
                    cand = [v for v in (_num(cells[_COL_ERP_H]), _num(cells[_COL_ERP_V])) if v is not None]
                    erp = max(cand) if cand else None
                rows.append(MeasurementRow(
                    line=lineno, f_mhz=float(cells[_COL_F]), tx_height_m=float(cells[_COL_HTX]),
                    heff_m=_num(cells[_COL_HEFF]), rx_height_m=float(cells[_COL_HRX]), erp_dbw=erp,
                    t_pct=float(cells[_COL_T]),
                    e_ref_dbuv_m=_num(cells[_COL_E_REF]) if len(cells) > _COL_E_REF else None,
                    lb_ref_db=_num(cells[_COL_LB_REF]) if len(cells) > _COL_LB_REF else None))
        except (ValueError, IndexError) as exc:
            raise ProfileFormatError(f"{path}:{lineno}: cannot read {section or 'header'} line {raw!r}: {exc}") from exc
    if len(points) < 2:
        raise ProfileFormatError(f"{path}: profile has {len(points)} points, need at least 2")
    arr = np.array(points, dtype=np.float64)
    if np.any(np.diff(arr[:, 0]) <= 0.0):
        raise ProfileFormatError(f"{path}: profile distances must increase strictly")
    return PathProfile(
        source=str(path), name=name, first_is_tx=first_is_tx, distance_km=arr[:, 0].copy(),
        height_m=arr[:, 1].copy(), coverage_code=arr[:, 2].astype(np.int64), cover_height_m=arr[:, 3].copy(),
        radio_met_code=arr[:, 4].astype(np.int64),
        measurements=tuple(rows))
