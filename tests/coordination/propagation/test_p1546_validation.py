"""P.1546-6 against the ITU-R Study Group 3 validation set (52 datasets on 24 path profiles).

The reference implementations reproduce the SG3 results within 1e-4 dB; so must we, through the
profile interface (which derives every terrain input from the Fryderyk_csv file).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from coordination.propagation import p1546

VALIDATION = Path(__file__).resolve().parents[4] / "shared" / "data" / "p1546" / "validation"
TOLERANCE_DB = 1e-4


def _reference_rows() -> list[tuple[str, int, float]]:
    """(profile file, dataset index, reference E) from combined_results.csv."""
    path = VALIDATION / "results" / "combined_results.csv"
    if not path.is_file():
        return []
    rows = []
    with path.open(newline="") as fh:
        for rec in csv.reader(fh):
            if not rec or rec[0].lstrip().startswith("#"):
                continue
            rows.append((rec[1].strip(), int(rec[2]), float(rec[3])))
    return sorted(rows)


REFERENCE = _reference_rows()


def _log(name: str) -> dict[str, str]:
    """The step log of one dataset: parameter name -> logged value."""
    values = {}
    for line in (VALIDATION / "results" / f"{name}_log.csv").read_text().splitlines():
        cells = line.split(",")
        if len(cells) >= 4 and cells[0] and not cells[0].startswith("#"):
            values[cells[0].strip()] = cells[3].strip()
    return values


@pytest.fixture(scope="module")
def profiles(shared_dir: Path) -> dict[str, p1546.PathProfile]:
    folder = shared_dir / "data" / "p1546" / "validation" / "profiles"
    return {f.name: p1546.read_profile(f) for f in sorted(folder.glob("*.csv"))}


def test_validation_set_has_52_datasets_on_24_profiles(profiles: dict[str, p1546.PathProfile]) -> None:
    assert len(REFERENCE) == 52
    assert len(profiles) == 24
    assert sum(len(p.measurements) for p in profiles.values()) == 52


@pytest.mark.parametrize(("filename", "dataset", "e_ref"), REFERENCE, ids=[f"{f}#{i}" for f, i, _ in REFERENCE])
def test_profile_prediction_matches_sg3_reference(profiles: dict[str, p1546.PathProfile], filename: str,
                                                  dataset: int, e_ref: float) -> None:
    prof = profiles[filename]
    row = prof.measurements[dataset]
    result = p1546.field_strength_profile(prof, dataset)
    assert result.e_dbuv_m == pytest.approx(e_ref, abs=TOLERANCE_DB)
    assert result.lb_db == pytest.approx(row.lb_ref_db, abs=TOLERANCE_DB)


@pytest.mark.parametrize(("filename", "dataset", "e_ref"), REFERENCE, ids=[f"{f}#{i}" for f, i, _ in REFERENCE])
def test_profile_inputs_match_sg3_step_log(profiles: dict[str, p1546.PathProfile], filename: str,
                                           dataset: int, e_ref: float) -> None:
    """The inputs read from the profile are those the reference logged (6 significant digits)."""
    del e_ref
    logged = _log(f"{Path(filename).stem}_{dataset}")
    inp = profiles[filename].inputs(dataset)
    land = sum(z for z, k in zip(inp.zone_lengths_km, inp.zone_types) if k == "Land")
    sea = sum(z for z, k in zip(inp.zone_lengths_km, inp.zone_types) if k != "Land")

    def close(key: str, value: float) -> None:
        ref = float(logged[key])
        assert math.isclose(value, ref, rel_tol=2e-5, abs_tol=2e-5), f"{key}: {value} != {ref}"

    close("Tx Power (kW)", inp.erp_kw)
    close("Frequency f (MHz)", inp.f_mhz)
    close("Land path (km)", land)
    close("See path (km)", sea)
    close("Percentage time t (%)", inp.t_pct)
    close("Tx antenna height a. g. ha (m)", inp.ha_m)
    close("Rx antenna height a. g. h2 (m)", inp.h2_m)
    close("Tx clutter height R1 (m)", inp.r1_m)
    close("Rx clutter height R2 (m)", inp.r2_m)
    close("Tx effective TCA  theta_eff1 (deg)", inp.eff1_deg)
    close("Terrain clearance angle tca (deg)", inp.tca_deg)
    assert inp.area == logged["Rx clutter type"]
    if logged["Tx antenna height hb (m)"]:
        close("Tx antenna height hb (m)", inp.hb_m)


_STEP_LOG_KEYS = {
    "h1_m": "Tx antenna height h1 (m)",
    "e_max_dbuv_m": "Maximum field strength Emax (dBuV/m)",
    "e_curves_dbuv_m": "Field strength (dBuV/m)",
    "tca_correction_db": "TCA correction (dB)",
    "e_troposcatter_dbuv_m": "Trop. Scatt. field strength Ets (dBuV/m)",
    "r2_modified_m": "Rx repr. clutter height R2 (m)",
    "rx_height_correction_db": "Rx antenna height correction (dB)",
    "tx_clutter_correction_db": "Tx clutter correction (dB)",
    "slope_correction_db": "Rx slope-path correction (dB)",
    "e_dbuv_m": "Resulting field strength for Ptx = 1kW (dBuV/m)",
}


@pytest.mark.parametrize(("filename", "dataset", "e_ref"), REFERENCE, ids=[f"{f}#{i}" for f, i, _ in REFERENCE])
def test_intermediate_steps_match_sg3_step_log(profiles: dict[str, p1546.PathProfile], filename: str,
                                               dataset: int, e_ref: float) -> None:
    """Each step of Annex 6 agrees with the reference's log (printed with 6 significant digits)."""
    del e_ref
    logged = _log(f"{Path(filename).stem}_{dataset}")
    steps = p1546.field_strength_profile(profiles[filename], dataset).steps
    assert set(steps) == set(p1546.STEP_NAMES)
    for name, key in _STEP_LOG_KEYS.items():
        ref = float(logged[key])
        assert math.isclose(steps[name], ref, rel_tol=1e-5, abs_tol=1e-5), f"{name}: {steps[name]} != {ref}"
