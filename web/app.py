"""The web view for enforcement teams: a Starlette application over the server's API.

Why Starlette: a small, well-kept ASGI toolkit (routing, forms, cookies, streaming responses for
server-sent events) without an ORM or a template language of its own; Jinja2 (autoescaping)
renders the pages and uvicorn serves them over TLS. Nothing here reaches into the server: every
read and write is an API call (:mod:`web.backend`), in the team's name and for its provinces.

Authentication: a team logs in with its token (:mod:`web.tokens`); the token travels in an
HttpOnly, Secure, SameSite=Strict cookie (or an ``Authorization: Bearer`` header) and is checked at
every request, so revoking it shuts the team out at once. A wrong or revoked token gets a bare
401 and nothing else; a browser without any token is sent to the login page. A team never sees
an alert or a case that involves none of its provinces: those answer 404, like ids that do not
exist, so a team cannot learn which ids exist elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, Literal, ParamSpec

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from coordination.cases import OUTCOMES, TASK_KINDS
from station_db.geo import Boundaries, default_boundaries
from web import forms, mapsvg
from web.backend import Backend, BackendError, TeamView
from web.i18n import pick_language, translate
from web.live import LiveHub
from web.tokens import Team, TokenStore

log = logging.getLogger(__name__)

COOKIE = "bw_token"
LANG_COOKIE = "bw_lang"
MAX_BODY_BYTES = forms.MAX_UPLOAD_BYTES + 64 * 1024
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'self'; "
       "frame-ancestors 'none'")


_P = ParamSpec("_P")


@dataclass(frozen=True)
class Found:
    """What a route about one alert or case works on, once the team is known and may see the record."""

    team: Team
    view: TeamView
    item_id: str
    item: dict[str, Any]


@dataclass
class WebContext:
    """What the application is built from (collaborators, no globals)."""

    backend: Backend
    tokens: TokenStore
    hub: LiveHub
    boundaries: Boundaries | None = None
    secure_cookie: bool = True
    background: Callable[[asyncio.Event], Any] | None = None  # e.g. the PUB pump, run for the app's lifetime


def create_app(ctx: WebContext) -> Starlette:
    env = jinja2.Environment(loader=jinja2.PackageLoader("web", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["tr"] = _tr_filter  # one environment for every request: the language comes from the context
    boundaries = ctx.boundaries or default_boundaries()

    def unauthorised() -> Response:
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})

    def token_of(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.cookies.get(COOKIE)

    def lang_of(request: Request) -> str:
        return pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                             request.headers.get("accept-language"))

    def words_of(request: Request) -> Callable[[str], str]:
        """This request's language as a translation function (for the map's legend)."""
        lang = lang_of(request)
        return lambda text: translate(lang, text)

    def page(request: Request, name: str, team: Team | None, status: int = 200, **values: Any) -> HTMLResponse:
        lang = lang_of(request)

        def t(text: Any) -> str:  # the templates' translation function, in this request's language
            return translate(lang, str(text))

        body = env.get_template(name).render(t=t, lang=lang, team=team, errors=values.pop("errors", None),
                                             watch=values.pop("watch", None), **values)
        resp = HTMLResponse(body, status_code=status)
        if request.query_params.get("lang") in ("en", "zh"):
            resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", secure=ctx.secure_cookie)
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    def authorise(request: Request) -> Team | Response:
        """The team of a valid token; 401 for a wrong or revoked one; the login page if there is none."""
        token = token_of(request)
        if token:
            team = ctx.tokens.team_for(token)
            return team if team is not None else unauthorised()
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/login", status_code=303)
        return unauthorised()

    def view(team: Team) -> TeamView:
        return TeamView(ctx.backend, team.name, team.provinces)

    def not_found(request: Request, team: Team) -> Response:
        return page(request, "index.html", team, 404, map_svg="", alerts=[], cases=[])

    def about(kind: Literal["alert", "case"]) -> Callable[[Callable[Concatenate[Request, Found, _P],
                                                                        Awaitable[Response]]],
                                                          Callable[Concatenate[Request, _P], Awaitable[Response]]]:
        """The prologue of every route about one alert or case (``{kind}_id`` in the path), in one place.

        The team's token is checked (401 or the login page otherwise), and the record is looked up in the
        team's name: one that does not exist and one of another province's answer the same 404, so a team
        cannot learn which ids exist elsewhere. Only then does ``handler`` run, with what was found.
        """
        def wrap(handler: Callable[Concatenate[Request, Found, _P], Awaitable[Response]]
                 ) -> Callable[Concatenate[Request, _P], Awaitable[Response]]:
            async def route(request: Request, *args: _P.args, **kwargs: _P.kwargs) -> Response:
                team = authorise(request)
                if isinstance(team, Response):
                    return team
                v = view(team)
                item_id = request.path_params[f"{kind}_id"]
                item = await run_in_threadpool(v.alert if kind == "alert" else v.case, item_id)
                if item is None:
                    return not_found(request, team)
                return await handler(request, Found(team, v, item_id, item), *args, **kwargs)
            return route
        return wrap

    # ------------------------------------------------------------ login

    async def login_page(request: Request) -> Response:
        return page(request, "login.html", None, refused=False)

    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=4)
        token = form.get("token")
        team = ctx.tokens.team_for(token if isinstance(token, str) else None)
        if team is None:
            return unauthorised()
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, str(token), httponly=True, secure=ctx.secure_cookie, samesite="strict",
                        max_age=12 * 3600)
        return resp

    async def logout(request: Request) -> Response:
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    # ------------------------------------------------------------ pages

    async def index(request: Request) -> Response:
        team = authorise(request)
        if isinstance(team, Response):
            return team
        v = view(team)

        def load() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
            return v.open_alerts(), v.open_cases(), v.sensors()

        try:
            alerts, cases, sensors = await run_in_threadpool(load)
        except BackendError as exc:
            return page(request, "index.html", team, 502, map_svg="", alerts=[], cases=[],
                        errors=[f"{translate(lang_of(request), 'The monitoring centre refused:')} {exc}"])
        svg = mapsvg.render(boundaries, team.provinces, alerts, sensors, tr=words_of(request))
        return page(request, "index.html", team, map_svg=svg, alerts=alerts, cases=cases)

    @about("alert")
    async def alert_page(request: Request, found: Found, errors: list[str] | None = None,
                         status: int = 200) -> Response:
        a, team = found.item, found.team
        case = await run_in_threadpool(found.view.case_of_alert, found.item_id)
        svg = mapsvg.render(boundaries, team.provinces, [a], _alert_sensors(a), link=False, focus=True,
                            tr=words_of(request))
        return page(request, "alert.html", team, status, a=a, case=case, map_svg=svg, errors=errors, watch=a["id"])

    @about("case")
    async def case_page(request: Request, found: Found, errors: list[str] | None = None, status: int = 200,
                        done: str | None = None) -> Response:
        c, team = found.item, found.team
        handover_mine = bool(c.get("handover")) and c["handover"]["to"] in team.provinces
        return page(request, "case.html", team, status, c=c, errors=errors, done=done, outcomes=OUTCOMES,
                    task_kinds=TASK_KINDS, holder_mine=c["holder"] in team.provinces, handover_mine=handover_mine,
                    watch=c["alert_id"])

    # ------------------------------------------------------------ actions

    async def _form(request: Request) -> Any:
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            raise forms.FormError(["The file is larger than 10 MiB."])
        return await request.form(max_files=1, max_fields=16, max_part_size=64 * 1024)

    def _problems(request: Request, exc: Exception) -> list[str]:
        lang = lang_of(request)
        if isinstance(exc, forms.FormError):
            return [translate(lang, p) for p in exc.problems]
        return [f"{translate(lang, 'The monitoring centre refused:')} {exc}"]

    @about("alert")
    async def ack(request: Request, found: Found) -> Response:
        try:
            note = forms.ack(await _form(request))
            await run_in_threadpool(found.view.ack, found.item_id, note or None)
        except (forms.FormError, BackendError) as exc:
            return await alert_page(request, _problems(request, exc), 422)
        return RedirectResponse(f"/alerts/{found.item_id}", status_code=303)

    @about("alert")
    async def open_case(request: Request, found: Found) -> Response:
        try:
            c = await run_in_threadpool(found.view.open_case, found.item_id)
        except BackendError as exc:
            return await alert_page(request, _problems(request, exc), 422)
        return RedirectResponse(f"/cases/{c['id']}", status_code=303)

    def case_action(parse: Callable[[Any], dict[str, Any]], action: str) -> Callable[[Request], Awaitable[Response]]:
        @about("case")
        async def handler(request: Request, found: Found) -> Response:
            try:
                fields = parse(await _form(request))
                await run_in_threadpool(lambda: found.view.act(found.item_id, action, **fields))
            except (forms.FormError, BackendError) as exc:
                return await case_page(request, _problems(request, exc), 422)
            return RedirectResponse(f"/cases/{found.item_id}?done={action}", status_code=303)
        return handler

    def _note(f: Any) -> dict[str, Any]:
        return {"text": forms.note(f)}

    def _close(f: Any) -> dict[str, Any]:
        outcome, summary = forms.close(f)
        return {"outcome": outcome, "summary": summary}

    def _task_done(f: Any) -> dict[str, Any]:
        task_id, result = forms.task_done(f)
        return {"task_id": task_id, "result": result}

    def _task(f: Any) -> dict[str, Any]:
        kind, desc = forms.task(f)
        return {"kind": kind, "description": desc}

    def _on_site(f: Any) -> dict[str, Any]:
        lat, lon, acc = forms.on_site(f)
        return {"lat": lat, "lon": lon, "accuracy_m": acc}

    def _handover(f: Any) -> dict[str, Any]:
        to, reason = forms.handover(f)
        return {"to": to, "reason": reason}

    def _answer(f: Any) -> dict[str, Any]:
        accept, reason = forms.handover_answer(f)
        return {"accept": accept, "reason": reason} if reason else {"accept": accept}

    @about("case")
    async def photo(request: Request, found: Found) -> Response:
        try:
            form = await _form(request)
            f = form.get("file")
            data = await f.read(forms.MAX_UPLOAD_BYTES + 1) if isinstance(f, UploadFile) else None
            up = forms.upload(f.filename if isinstance(f, UploadFile) else None, data)
            await run_in_threadpool(found.view.attach, found.item_id, up.name, up.media_type, up.data)
        except (forms.FormError, BackendError) as exc:
            return await case_page(request, _problems(request, exc), 422)
        return RedirectResponse(f"/cases/{found.item_id}?done=attach", status_code=303)

    @about("case")
    async def attachment(request: Request, found: Found) -> Response:
        sha = request.path_params["sha256"]
        listed = [a for a in found.item.get("attachments", ()) if a["sha256"] == sha]
        if not listed:
            return Response(status_code=404)
        data = await run_in_threadpool(found.view.attachment_bytes, found.item_id, sha, forms.MAX_UPLOAD_BYTES)
        return Response(data, media_type=listed[0]["media_type"], headers={
            "Content-Disposition": "inline", "X-Content-Type-Options": "nosniff", "Cache-Control": "private"})

    async def case_page_get(request: Request) -> Response:
        done = request.query_params.get("done")
        return await case_page(request, done=done if done in _DONE else None)

    async def events(request: Request) -> Response:
        team = authorise(request)
        if isinstance(team, Response):
            return team
        return StreamingResponse(ctx.hub.stream(team.provinces), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(ctx.background(stop)) if ctx.background is not None else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 3.0)

    routes = [
        Route("/login", login_page, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]), Route("/", index, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        Route("/alerts/{alert_id:str}", alert_page, methods=["GET"]),
        Route("/alerts/{alert_id:str}/ack", ack, methods=["POST"]),
        Route("/alerts/{alert_id:str}/case", open_case, methods=["POST"]),
        Route("/cases/{case_id:str}", case_page_get, methods=["GET"]),
        Route("/cases/{case_id:str}/note", case_action(_note, "note"), methods=["POST"]),
        Route("/cases/{case_id:str}/close", case_action(_close, "close"), methods=["POST"]),
        Route("/cases/{case_id:str}/task_done", case_action(_task_done, "task_done"), methods=["POST"]),
        Route("/cases/{case_id:str}/task", case_action(_task, "task"), methods=["POST"]),
        Route("/cases/{case_id:str}/on_site", case_action(_on_site, "on_site"), methods=["POST"]),
        Route("/cases/{case_id:str}/handover", case_action(_handover, "handover"), methods=["POST"]),
        Route("/cases/{case_id:str}/handover_answer", case_action(_answer, "handover_answer"), methods=["POST"]),
        Route("/cases/{case_id:str}/photo", photo, methods=["POST"]),
        Route("/cases/{case_id:str}/attachments/{sha256:str}", attachment, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


_DONE = ("note", "close", "task_done", "task", "on_site", "handover", "handover_answer", "attach")


def _alert_sensors(a: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sensors an alert's map shows: those with readings, then those of its TDOA fix (the hyperbolas'
    foci) not among them."""
    out: dict[str, dict[str, Any]] = {}
    tdoa = a.get("tdoa")
    tdoa_sensors = tdoa.get("sensors") if isinstance(tdoa, Mapping) else None
    for s in list(a.get("sensors") or ()) + list(tdoa_sensors or ()):
        if not isinstance(s, Mapping) or not all(isinstance(s.get(k), int | float) for k in ("lat", "lon")):
            continue
        out.setdefault(str(s.get("sensor_id", "")), {"sensor_id": s.get("sensor_id", ""), "lat": s["lat"],
                                                     "lon": s["lon"]})
    return list(out.values())


@jinja2.pass_context
def _tr_filter(context: Any, text: Any) -> str:
    """``value|tr``: translated into the language of the page being rendered."""
    return translate(str(context.get("lang", "en")), str(text))
