"""The P.1546-6 tabulated curves (figures 1-24), loaded once from package data.

Each figure is a (78 distances x 8 transmitting heights) table for one nominal frequency
(100/600/2000 MHz), nominal time percentage (50/10/1 %) and path kind (land, sea at 50 %,
cold or warm sea at 10 and 1 %). The files ship inside the package (see data/NOTICE.txt), so
the installed program never reads the project's shared folder.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
from numpy.typing import NDArray

#: Nominal transmitting/base heights h1 of the curves (m).
NOMINAL_H1_M: NDArray[np.float64] = np.array([10.0, 20.0, 37.5, 75.0, 150.0, 300.0, 600.0, 1200.0])
LOG_NOMINAL_H1: NDArray[np.float64] = np.log10(NOMINAL_H1_M)
NOMINAL_F_MHZ = (100.0, 600.0, 2000.0)
NOMINAL_T_PCT = (1.0, 10.0, 50.0)

_KIND_IN_NAME = {"land": "land", "sea": "sea", "coldsea": "cold", "warmsea": "warm"}


class CurveTables:
    """All 24 figures keyed by (nominal f MHz, nominal t %, kind) with kind in land/sea/cold/warm."""

    def __init__(self, distances_km: NDArray[np.float64], tables: dict[tuple[float, float, str], NDArray[np.float64]]):
        self.distances_km = distances_km
        self.log_distances = np.log10(distances_km)
        self._tables = tables

    def table(self, f_nom_mhz: float, t_nom_pct: float, kind: str) -> NDArray[np.float64]:
        """The (78, 8) field-strength table for one figure; 50 % sea curves serve cold and warm."""
        if t_nom_pct == 50.0 and kind in ("cold", "warm"):
            kind = "sea"
        if t_nom_pct != 50.0 and kind == "sea":
            raise KeyError("sea at 1 % and 10 % of time must be 'cold' or 'warm'")
        return self._tables[(f_nom_mhz, t_nom_pct, kind)]


def _parse_name(name: str) -> tuple[float, float, str]:
    # figureNN_<f>MHz_<path>_<t>pct.csv
    parts = name[: -len(".csv")].split("_")
    f_mhz = float(parts[1].removesuffix("MHz"))
    kind = _KIND_IN_NAME[parts[2]]
    t_pct = float(parts[3].removesuffix("pct"))
    return f_mhz, t_pct, kind


@functools.cache
def load_tables() -> CurveTables:
    """Read the 24 figure CSVs shipped in coordination/propagation/data (cached after first use)."""
    data = resources.files("coordination.propagation").joinpath("data")
    tables: dict[tuple[float, float, str], NDArray[np.float64]] = {}
    distances: NDArray[np.float64] | None = None
    for entry in sorted(data.iterdir(), key=lambda p: p.name):
        if not (entry.name.startswith("figure") and entry.name.endswith(".csv")):
            continue
        text = entry.read_text(encoding="utf-8")
        rows = [line.split(",") for line in text.splitlines()[1:] if line.strip()]
        arr = np.array(rows, dtype=np.float64)
        if arr.shape != (78, 10):
            raise ValueError(f"{entry.name}: expected 78 rows x 10 columns, got {arr.shape}")
        if distances is None:
            distances = arr[:, 0].copy()
        elif not np.array_equal(distances, arr[:, 0]):
            raise ValueError(f"{entry.name}: distance column differs from the other figures")
        tables[_parse_name(entry.name)] = np.ascontiguousarray(arr[:, 1:9])
    if distances is None or len(tables) != 24:
        raise ValueError(f"P.1546 tables incomplete in package data: found {len(tables)} of 24 figures")
    return CurveTables(distances, tables)
