"""What the network learnt, as a stored document: the same numbers back, and bad documents refused by name.

:func:`coordination.spread.learnt_doc` / :func:`restore_learnt` carry the learnt level spread and the
common e.r.p. fit bias through the server's store (plain JSON types, no pickle); a document that cannot be
used names what is wrong and where, and leaves what the engine holds untouched.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from coordination.spread import ErpBias, LearntStateError, NetworkSpread, learnt_doc, restore_learnt


def taught(seed: int = 3, n_stations: int = 40) -> tuple[NetworkSpread, ErpBias]:
    """A network that judged ``n_stations`` stations of 4 levels (spread 6 dB) whose fits read 2 dB low."""
    rng = np.random.default_rng(seed)
    spread, bias = NetworkSpread(), ErpBias()
    for k in range(n_stations):
        spread.add(f"ST-{k}", {f"s{j}": float(v) for j, v in enumerate(rng.normal(0.0, 6.0, 4))})
        bias.add(f"ST-{k}", float(rng.normal(-2.0, 3.0)))
    return spread, bias


def test_a_stored_document_gives_back_the_same_spread_and_bias_through_json() -> None:
    spread, bias = taught()
    text = json.dumps(learnt_doc(spread, bias))
    spread2, bias2 = NetworkSpread(), ErpBias()
    restore_learnt(json.loads(text), spread2, bias2, "test")
    assert spread2.dof == spread.dof == 120
    assert spread2.sigma_db() == pytest.approx(spread.sigma_db(), abs=1e-12)
    assert 5.0 < spread2.sigma_db() < 7.0  # type: ignore[operator]
    assert spread2.to_doc() == spread.to_doc()  # the oldest-first order too: the same stations leave first
    est, est2 = bias.estimate(), bias2.estimate()
    assert est is not None and est2 == est
    assert -3.2 < est.median_db < -0.8 and 0.4 < est.se_db < 0.9 and est.n_stations == 40


def test_the_bias_is_a_median_with_its_error_and_needs_enough_stations() -> None:
    bias = ErpBias(min_stations=20)
    for k in range(19):
        bias.add(f"A{k}", -2.0 + 0.1 * (k - 9))
    assert bias.estimate() is None  # 19 stations: nothing applied yet
    bias.add("A19", 40.0)  # one station reading far off moves a median by one rank, not by its size
    est = bias.estimate()
    assert est is not None and est.median_db == pytest.approx(-1.95, abs=1e-9)
    # 1.2533 x 1.4826 x MAD / sqrt(n): MAD of the ranks 0.1 dB apart about -1.95 is 0.5 dB
    assert est.se_db == pytest.approx(1.2533 * 1.4826 * 0.5 / math.sqrt(20), rel=1e-3)
    bias.add("A0", -1.0)  # a station counts once: its latest judgement replaces the earlier one
    assert bias.n_stations == 20
    far = ErpBias(min_stations=3, max_abs_db=6.0)
    for k in range(3):
        far.add(f"B{k}", -15.0)
    assert far.estimate().median_db == -6.0  # type: ignore[union-attr]  # clipped: a broken calibration is not hidden


@pytest.mark.parametrize(("mutate", "where"), [
    (lambda d: d.update(version=2), "test.version: 2 is not the layout"),
    (lambda d: d.pop("erp_bias"), "test: missing erp_bias"),
    (lambda d: d["spread"].__setitem__(3, ["ST-3", {"s0": "x", "s1": 1.0}]), "test.spread[3].s0: expected a finite"),
    (lambda d: d["spread"].__setitem__(0, ["ST-0", {"s0": 1.0}]), "test.spread[0]: station 'ST-0' has 1 residual"),
    (lambda d: d["spread"].__setitem__(1, ["ST-1", {"s0": 1e9, "s1": 0.0}]), "test.spread[1].s0: 1e+09 dB is beyond"),
    (lambda d: d["erp_bias"].__setitem__(5, ["ST-5", None]), "test.erp_bias[5]: expected a finite"),
    (lambda d: d["erp_bias"].__setitem__(2, "ST-2"), "test.erp_bias[2]: expected [station_key, offset_db]"),
    (lambda d: d.__setitem__("spread", {}), "test.spread: expected a list"),
])
def test_a_bad_document_names_what_and_where_and_changes_nothing(mutate, where) -> None:
    spread, bias = taught()
    doc = json.loads(json.dumps(learnt_doc(spread, bias)))
    mutate(doc)
    held_spread, held_bias = taught(seed=9, n_stations=25)
    before = (held_spread.to_doc(), held_bias.to_doc(), held_spread.revision, held_bias.revision)
    with pytest.raises(LearntStateError, match=where.replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")):
        restore_learnt(doc, held_spread, held_bias, "test")
    assert (held_spread.to_doc(), held_bias.to_doc(), held_spread.revision, held_bias.revision) == before


def test_a_restore_keeps_this_servers_limits() -> None:
    spread, bias = taught(n_stations=40)
    small_spread, small_bias = NetworkSpread(max_stations=10), ErpBias(max_stations=10)
    restore_learnt(learnt_doc(spread, bias), small_spread, small_bias, "test")
    assert small_spread.n_stations == small_bias.n_stations == 10
    assert [k for k, _ in small_spread.to_doc()] == [f"ST-{k}" for k in range(30, 40)]  # the newest ten
