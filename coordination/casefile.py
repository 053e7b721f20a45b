"""The case file: one self-contained HTML page and a ZIP of the evidence with a SHA-256 manifest.

What a province hands to a court, a licensee or a neighbour: the alert as it stood, the case's
whole history (each event with its chain hash, and whether the chain verifies), the tasks and the
outcome, and every evidence file (SigMF captures, spectra, photos, measurement files). The ZIP
holds ``case.html``, ``case.json`` (events with hashes), ``alert.json``, the files under
``evidence/`` and ``MANIFEST.sha256`` in the ``sha256sum`` format, so anyone can check it with
``sha256sum -c MANIFEST.sha256`` after unpacking, without our software.
"""

from __future__ import annotations

import hashlib
import html
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from coordination.attachments import file_sha256
from coordination.caselog import verify
from coordination.cases import Case, format_time


@dataclass(frozen=True)
class EvidenceFile:
    """A file to put in the case file: ``name`` inside ``evidence/`` and where it is on disk."""

    name: str
    path: Path
    what: str = ""


@dataclass(frozen=True)
class CaseFile:
    html_path: Path
    zip_path: Path
    manifest: tuple[tuple[str, str], ...]  # (sha256, path inside the zip)
    chain_ok: bool


def _safe_member(name: str) -> str:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ValueError(f"evidence name {name!r} must be a relative path without '..'")
    return "evidence/" + str(p)


def export_case_file(case: Case, alert: Mapping[str, Any] | None, evidence: Sequence[EvidenceFile],
                     out_dir: Path | str) -> CaseFile:
    """Write ``OUT/<case id>.html`` and ``OUT/<case id>.zip``; returns their paths and the manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = verify(case.id, case.events)
    case_json = json.dumps(case.to_json() | {"chain": report.to_json()}, ensure_ascii=False, indent=1)
    alert_json = json.dumps(dict(alert) if alert is not None else None, ensure_ascii=False, indent=1)
    members: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for ev in evidence:
        member = _safe_member(ev.name)
        if member in seen:
            raise ValueError(f"two evidence files named {ev.name!r}")
        seen.add(member)
        members.append((member, ev.path))
    manifest = [(file_sha256(p), m) for m, p in members]
    page = render_html(case, alert, report.ok, report.reason, manifest, {_safe_member(e.name): e.what
                                                                          for e in evidence})
    html_path = out / f"{case.id}.html"
    html_path.write_text(page, encoding="utf-8")
    inline = {"case.html": page.encode(), "case.json": case_json.encode(), "alert.json": alert_json.encode()}
    manifest += [(hashlib.sha256(b).hexdigest(), name) for name, b in inline.items()]
    manifest.sort(key=lambda x: x[1])
    zip_path = out / f"{case.id}.zip"
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, b in inline.items():
            z.writestr(name, b)
        for member, path in members:
            z.write(path, member)
        z.writestr("MANIFEST.sha256", "".join(f"{h}  {m}\n" for h, m in manifest))
    tmp.replace(zip_path)
    return CaseFile(html_path, zip_path, tuple(manifest), report.ok)


def check_zip(zip_path: Path | str) -> list[str]:
    """Members whose bytes do not match ``MANIFEST.sha256`` (or that it does not list); [] if intact."""
    bad: list[str] = []
    with zipfile.ZipFile(zip_path) as z:
        listed = {}
        for line in z.read("MANIFEST.sha256").decode().splitlines():
            h, _, name = line.partition("  ")
            listed[name] = h
        for info in z.infolist():
            if info.filename == "MANIFEST.sha256":
                continue
            if listed.get(info.filename) != hashlib.sha256(z.read(info)).hexdigest():
                bad.append(info.filename)
        bad += [n for n in listed if n not in z.namelist()]
    return bad


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def render_html(case: Case, alert: Mapping[str, Any] | None, chain_ok: bool, chain_reason: str,
                manifest: Sequence[tuple[str, str]], what: Mapping[str, str]) -> str:
    """The case page: summary, alert, tasks, history with hashes, evidence manifest."""
    rows = "".join(
        f"<tr><td>{ev.seq}</td><td>{_e(format_time(ev.t_utc))}</td><td>{_e(ev.actor)}</td><td>{_e(ev.province)}"
        f"</td><td>{_e(ev.kind)}</td><td>{_e(json.dumps(dict(ev.data), ensure_ascii=False))}</td>"
        f"<td><code>{_e(ev.hash[:16])}</code></td></tr>" for ev in case.events)
    tasks = "".join(f"<tr><td>{_e(t.task_id)}</td><td>{_e(t.kind)}</td><td>{_e(t.for_province)}</td>"
                    f"<td>{_e(t.description)}</td><td>{'done' if t.done else 'open'}</td><td>{_e(t.result)}</td></tr>"
                    for t in case.tasks)
    files = "".join(f"<tr><td>{_e(m)}</td><td>{_e(what.get(m, ''))}</td><td><code>{_e(h)}</code></td></tr>"
                    for h, m in manifest)
    a = alert or {}
    findings = "".join(f"<li>{_e(f)}</li>" for f in a.get("findings", ()))
    chain = ("verified: every event links to the one before" if chain_ok else f"BROKEN: {chain_reason}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Case {_e(case.id)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:.2em .4em;font-size:.9em;vertical-align:top}}
.bad{{color:#b00;font-weight:bold}}</style></head><body>
<h1>Case {_e(case.id)} &middot; {_e(case.state)}</h1>
<table>
<tr><th>Alert</th><td>{_e(case.alert_id)} ({_e(case.severity)}, {_e(case.band)},
 {case.f_center_hz / 1e6:.4f} MHz)</td></tr>
<tr><th>Provinces</th><td>{_e(", ".join(case.provinces))}</td></tr>
<tr><th>Held by</th><td>{_e(case.holder)} {_e(case.assignee)}</td></tr>
<tr><th>Who must act</th><td>{_e(case.resolution)}</td></tr>
<tr><th>Opened</th><td>{_e(format_time(case.opened_at))} by {_e(case.opened_by)}
 ({'automatically' if case.auto else 'by hand'})</td></tr>
<tr><th>Outcome</th><td>{_e(case.outcome or '-')} {_e(case.summary)}</td></tr>
<tr><th>History chain</th><td class="{'' if chain_ok else 'bad'}">{_e(chain)}; head
 <code>{_e(case.head_hash)}</code> after {case.n_events} events</td></tr>
</table>
<h2>Findings</h2><ul>{findings}</ul>
<h2>Tasks</h2><table><tr><th>id</th><th>kind</th><th>for</th><th>description</th><th>state</th><th>result</th>
</tr>{tasks}</table>
<h2>History</h2><table><tr><th>#</th><th>time (UTC)</th><th>who</th><th>province</th><th>what</th><th>details</th>
<th>hash</th></tr>{rows}</table>
<h2>Evidence (SHA-256)</h2><table><tr><th>file</th><th>what</th><th>sha256</th></tr>{files}</table>
</body></html>
"""
