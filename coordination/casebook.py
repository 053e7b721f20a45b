"""The case desk: run a case command against the stored history and append its sealed event.

The desk holds a :class:`CaseRepository` (the store's case tables, or the in-memory one here for
tests and tools) and does the one thing every caller (API op, server, CLI) needs: read a case's
events, fold them (:func:`coordination.cases.replay`), build the next event with a command, seal
it into the chain (:mod:`coordination.caselog`) and append it. ``append`` is conditional on the
head the event links to: when two centres on a shared store act on one case at the same moment,
one of them finds the head moved (:class:`CaseConflictError`), and the desk rebuilds the event on the
new history once (the command's checks run again, so a case closed meanwhile is refused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from coordination import cases
from coordination.caselog import seal
from coordination.cases import Case, CaseError, CaseEvent


class CaseConflictError(CaseError):
    """The case's head moved between reading and appending (another writer appended first)."""


class UnknownCaseError(CaseError):
    """No case with that id (or none for that alert)."""


class CaseRepository(Protocol):
    """Where case events are kept (append-only)."""

    def append_event(self, ev: CaseEvent) -> None:
        """Store ``ev`` if it is the next of its case (``seq`` = stored count + 1); CaseConflictError otherwise."""

    def case_events(self, case_id: str) -> list[CaseEvent]:
        """A case's events in seq order ([] if unknown)."""

    def case_ids(self, state: str | None = None, province: str | None = None) -> list[str]:
        """Case ids, oldest first: every one, or those in ``state`` / seen by ``province`` (a narrowing
        the store answers from its summary rows, so a listing does not replay every case)."""


class InMemoryCaseRepository:
    """A repository in a dict: for tests and tools (the server keeps cases in its store)."""

    def __init__(self) -> None:
        self._events: dict[str, list[CaseEvent]] = {}

    def append_event(self, ev: CaseEvent) -> None:
        got = self._events.setdefault(ev.case_id, [])
        if ev.seq != len(got) + 1:
            if not got:
                del self._events[ev.case_id]
            raise CaseConflictError(f"case {ev.case_id}: event {ev.seq} is not next ({len(got)} stored)")
        got.append(ev)

    def case_events(self, case_id: str) -> list[CaseEvent]:
        return list(self._events.get(case_id, ()))

    def case_ids(self, state: str | None = None, province: str | None = None) -> list[str]:
        out = []
        for cid, evs in self._events.items():
            c = cases.replay(evs)
            if (state is None or c.state == state) and (province is None or c.involves((province,))):
                out.append(cid)
        return out


Command = Callable[[Case], CaseEvent]


class CaseDesk:
    """Open cases and apply commands through a repository; returns the case after each step."""

    def __init__(self, repo: CaseRepository, on_change: Callable[[Case, CaseEvent], None] | None = None) -> None:
        """``on_change(case, event)``: called after each event is stored (the server publishes it)."""
        self.repo = repo
        self.on_change = on_change

    def _changed(self, case: Case) -> Case:
        if self.on_change is not None:
            self.on_change(case, case.events[-1])
        return case

    def get(self, case_id: str) -> Case:
        events = self.repo.case_events(case_id)
        if not events:
            raise UnknownCaseError(f"no case with id {case_id!r}")
        return cases.replay(events)

    def find_for_alert(self, alert_id: str) -> Case | None:
        events = self.repo.case_events(cases.case_id_for(alert_id))
        return cases.replay(events) if events else None

    def all(self) -> list[Case]:
        return [cases.replay(self.repo.case_events(cid)) for cid in self.repo.case_ids()]

    def visible_to(self, provinces: Iterable[str] | None, state: str | None = None) -> list[Case]:
        """Cases the provinces see (``None``: every case), optionally only those in ``state``."""
        if provinces is None:
            ids = self.repo.case_ids(state=state)
        else:
            ids = list(dict.fromkeys(cid for p in provinces for cid in self.repo.case_ids(state=state, province=p)))
        return [cases.replay(self.repo.case_events(cid)) for cid in ids]

    def open(self, alert: Mapping[str, Any], t: datetime, actor: cases.Actor = cases.SYSTEM, *,
             auto: bool = False) -> Case:
        """Open the case of ``alert``; an existing case of that alert is returned unchanged."""
        existing = self.find_for_alert(str(alert.get("id")))
        if existing is not None:
            return existing
        ev = seal(None, cases.open_case(alert, t, actor, auto=auto))
        try:
            self.repo.append_event(ev)
        except CaseConflictError:  # another centre opened it at the same moment: theirs stands
            found = self.find_for_alert(str(alert.get("id")))
            assert found is not None
            return found
        return self._changed(cases.apply(None, ev))

    def act(self, case_id: str, command: Command) -> Case:
        """Apply ``command`` (a function of the current case that builds the next event)."""
        for attempt in (0, 1):
            case = self.get(case_id)
            ev = seal(case.events[-1], command(case))
            try:
                self.repo.append_event(ev)
            except CaseConflictError:
                if attempt:
                    raise
                continue
            return self._changed(cases.apply(case, ev))
        raise AssertionError("unreachable")


def auto_open(desk: CaseDesk, alerts: Iterable[Mapping[str, Any]], t: datetime) -> list[Case]:
    """Open (once) the case of every alert from ``major`` up among ``alerts`` (alert JSON documents).

    Called with the alert events the server has just persisted: an alert that opens as, or is
    raised to, ``major``/``critical`` gets its case, held by the province that must act. A case no
    team has touched yet follows its alert when the province that must act changes (``reassigned``).
    """
    out = []
    for doc in alerts:
        existing = desk.find_for_alert(str(doc.get("id")))
        if existing is None:
            if cases.should_open_automatically(doc):
                out.append(desk.open(doc, t, cases.SYSTEM, auto=True))
        elif cases.follow_alert(existing, doc, t) is not None:  # untouched, and the alert moved on
            out.append(desk.act(existing.id, _follow(doc, t)))
    return out


def merge_linked(desk: CaseDesk, link_of: Callable[[str], str | None],
                 alert_json: Callable[[str], Mapping[str, Any] | None], t: datetime) -> list[Case]:
    """Merge the open case of every alert now linked to another alert into that alert's case.

    In a federation a centre may raise (and open a case for) its own alert before it learns that
    another centre's alert stands for the same emitter; once the alerts are linked, one case must
    remain: the linked alert's case is ``merged`` into the standing alert's (opened if needed), and
    the standing case gets a note naming the merged one. Returns the merged cases.
    """
    out = []
    for c in desk.visible_to(None, "open"):
        target_alert = link_of(c.alert_id)
        if target_alert is None or target_alert == c.alert_id:
            continue
        doc = alert_json(target_alert)
        if doc is None:
            continue
        target = desk.open(doc, t, cases.SYSTEM, auto=c.auto)
        if target.state != "open":
            continue
        merged = desk.act(c.id, _merge_into(target, t))
        desk.act(target.id, _system_note(
            f"case {c.id} (alert {c.alert_id}, {c.n_events} events) merged into this one: the same emitter", t))
        out.append(merged)
    return out


def _merge_into(target: Case, t: datetime) -> Command:
    return lambda cur: cases.merge(cur, target, t)


def _system_note(text: str, t: datetime) -> Command:
    return lambda cur: cases.add_note(cur, text, t, cases.SYSTEM)


def _follow(alert: Mapping[str, Any], t: datetime) -> Command:
    def step(cur: Case) -> CaseEvent:
        ev = cases.follow_alert(cur, alert, t)
        if ev is None:
            raise CaseError(f"case {cur.id} no longer follows its alert")
        return ev
    return step
