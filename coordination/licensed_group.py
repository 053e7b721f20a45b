"""Licensed traffic of one of several stations: when the levels cannot say which.

The localiser shares the prior that an emission comes from a licensed station among the stations that
overlap it in frequency (``LocaliserConfig.licensed_prior``). Two bases of one licensee a few km apart,
or a base and its neighbour on a re-used channel, then split the odds: each may sit below the engine's
match bar (``EngineConfig.match_min_probability``) while together they are far above it. Calling such an
emission ``unlicensed`` accuses licensed traffic working within its licence; what the levels do say is
"one of these stations", and the engine names the likeliest with the others as its rivals (a licence
check against it is then doubted by any rival within its own licence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from station_db.models import Station

# (station, probability that it is the emitter, its e.r.p. offset from the levels dB, residuals dB)
Rival = tuple[Station, float, float, list[float]]


@dataclass(frozen=True)
class LicensedGroup:
    """The stations that together explain an emission none explains alone (probabilities as given)."""

    members: tuple[Rival, ...]  # likeliest first, each at least the rival floor

    @property
    def best(self) -> Rival:
        """The likeliest station: the one named as the emitter."""
        return self.members[0]

    @property
    def probability(self) -> float:
        """Probability that one of the members is the emitter."""
        return sum(m[1] for m in self.members)

    def province_shares(self) -> dict[str, float]:
        """Where the emitter is, by the members' shares of the group's probability."""
        shares: dict[str, float] = {}
        for st, p, _, _ in self.members:
            shares[st.province] = shares.get(st.province, 0.0) + p / self.probability
        return shares

    def finding(self) -> str:
        """The alert's finding: which stations, with what odds, and that the identity is open."""
        names = ", ".join(f"{st.province}/{st.station_id} ({p:.2f})" for st, p, _, _ in self.members)
        return (f"licensed traffic: one of {len(self.members)} licensed stations is the emitter with probability "
                f"{self.probability:.2f} ({names}); no one of them alone reaches the match level, so the likeliest "
                f"is named and the others stand as rivals")


def licensed_group(rivals: Sequence[Rival], matched: Station | None, match_min_probability: float,
                   rival_min_probability: float) -> LicensedGroup | None:
    """The group of candidate stations (each >= ``rival_min_probability``) whose probabilities together reach
    ``match_min_probability`` when no single station was matched; None when one was, or when they do not."""
    if matched is not None:
        return None
    members = tuple(sorted((r for r in rivals if r[1] >= rival_min_probability), key=lambda r: -r[1]))
    if len(members) < 2 or sum(m[1] for m in members) < match_min_probability:
        return None
    return LicensedGroup(members)
