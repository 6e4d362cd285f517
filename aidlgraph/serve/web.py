"""The web pages, served beside the JSON API by the same app and the same ``LibraryService``.

Which URL gives what:

===================================  ===========================================================
``GET /``                            the search page (a topic box with suggestions)
``GET /path/TOPIC-ID?known=A&known=B``  the reading path page (shareable; renders without script)
``GET /topics/TOPIC-ID``             a topic: description, prerequisites, what it unlocks, reading
``GET /static/NAME``                 the pages' stylesheet and script
``GET /path?q=``, ``/related``,       **negotiated**: a request that prefers ``text/html`` (a
``POST /related``, ``GET /ask``,      browser) gets the page; anything else (``curl``, a bot,
``/topics``, ``/items/ID``           ``Accept: */*`` or ``application/json``) gets the JSON API,
                                     unchanged. ``GET /path?q=`` redirects a browser to the
                                     topic's ``/path/TOPIC-ID``; ``POST /related`` takes the
                                     page's form (``application/x-www-form-urlencoded``).
===================================  ===========================================================

Negotiation is a route class (``PageRoute``) whose routes match only requests that prefer HTML,
registered before the JSON routes: Starlette tries routes in order, so every other request falls
through to the JSON route exactly as before. HTML responses say ``Vary: Accept``.

Each page's data comes from ``aidlgraph.pages.contexts`` (the CLI's queries and views) through
``service.json``, so pages are cached per library generation like the JSON responses; the HTML
is rendered outside the service lock. Errors on a page are pages too (a 404 "did you mean", a
400 with the form kept), never a JSON body in a browser. Pages set a Content-Security-Policy
that allows nothing from another host.

(No ``from __future__ import annotations``: FastAPI reads the route functions' annotations, which
name classes imported inside ``web_routes``.)
"""
import json
import urllib.parse
from typing import Any, Callable

from ..corpus.model import KINDS
from ..errors import AidlgraphError, InputError, LibraryError, NotFoundError, UnknownTopicError
from ..pages import contexts, render
from ..service import LibraryService
from ..text import MAX_QUERY
from . import bodies
from .bodies import ApiError

FORM = "application/x-www-form-urlencoded"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
RELATED_DEFAULT_K = 10
RELATED_MAX_K = 100


def prefers_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header ranks HTML above JSON. Only an explicit ``text/html`` (or
    XHTML) counts, and a tie goes to JSON, so ``*/*``, no header and ``application/json`` keep
    getting the API.

    >>> prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    True
    >>> [prefers_html(a) for a in (None, "*/*", "application/json", "text/html, application/json")]
    [False, False, False, False]
    >>> prefers_html("application/json;q=0.5, text/html")
    True
    """
    weights: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            weights[media.lower()] = max(weights.get(media.lower(), 0.0), q)
    html = max(weights.get("text/html", 0.0), weights.get("application/xhtml+xml", 0.0))
    as_json = weights.get("application/json", weights.get("application/*", weights.get("*/*", 0.0)))
    return html > 0 and html > as_json


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return ""


def page_route_class():
    from fastapi.routing import APIRoute
    from starlette.routing import Match

    class PageRoute(APIRoute):
        """A route that matches only requests preferring HTML (and, for POST, a form body)."""

        def matches(self, scope):
            match, child = super().matches(scope)
            if match is Match.NONE or scope.get("type") != "http":
                return match, child
            if not prefers_html(_header(scope, b"accept")):
                return Match.NONE, {}
            if scope.get("method") == "POST" and bodies.media_type(_header(scope, b"content-type")) != FORM:
                return Match.NONE, {}
            return match, child

    return PageRoute


def html_response(text: str, status: int = 200):
    from fastapi.responses import HTMLResponse

    return HTMLResponse(text, status_code=status, headers={
        "Vary": "Accept", "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})


def base_of(request) -> str:
    return (request.scope.get("root_path") or "").rstrip("/")


def error_page(request, exc: Exception, query: str = "", known: list[str] = ()):
    """An error as a page: a topic that is not there gets "did you mean" links (and the items
    nearest the query, when the path says which), a missing item a 404, bad input a 400."""
    base = base_of(request)
    if isinstance(exc, UnknownTopicError):
        ctx = {"heading": "No such topic", "message": str(exc), "suggestions": list(getattr(exc, "suggestions", []) or []),
               "related": list(getattr(exc, "related", []) or []), "known": list(known), "query": query}
        return html_response(render.page("error", ctx, base), 404)
    if isinstance(exc, NotFoundError):
        return html_response(render.page("error", {"heading": "Not found", "message": str(exc)}, base), 404)
    if isinstance(exc, ApiError):
        return html_response(render.page("error", {"heading": "Bad request", "message": exc.message}, base), exc.status)
    if isinstance(exc, LibraryError):
        return html_response(render.page("error", {"heading": "The library is unavailable", "message": str(exc)}, base), 503)
    return html_response(render.page("error", {"heading": "Bad request", "message": str(exc)}, base), 400)


def web_routes(service: LibraryService):
    """The pages' routes (see the module docstring); include them before the JSON routes.

    One function holding every route as a closure over ``service`` (as ``app.read_routes``
    does): longer than most, but each route is a few lines of parsing and a ``render.page``."""
    from fastapi import APIRouter, Request
    from fastapi.responses import RedirectResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    pages = APIRouter(include_in_schema=False)
    negotiated = APIRouter(include_in_schema=False, route_class=page_route_class())

    def data(key: tuple | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A page's data through the service (cached per generation under ``key``)."""
        return json.loads(service.json(key and ("page", *key), fn, *args, **kwargs))

    def show(request, name: str, key: tuple | None, fn, *args, **kwargs):
        try:
            ctx = data(key, fn, *args, **kwargs)
        except (AidlgraphError, ApiError) as exc:
            return error_page(request, exc)
        return html_response(render.page(name, ctx, base_of(request)))

    def known_of(request) -> list[str]:
        return bodies.split_known(request.query_params.getlist("known"))

    def path_data(lib, query: str, known: list[str]) -> dict:
        from .. import views
        from ..query.path import reading_path

        return contexts.path(lib, views.path_json(reading_path(lib, query, known=known)), known)

    def path_url(request, topic_id: str, known: list[str]) -> str:
        query = urllib.parse.urlencode([("known", k) for k in known])
        return f"{base_of(request)}/path/{urllib.parse.quote(topic_id, safe='')}" + (f"?{query}" if query else "")

    @pages.get("/")
    def home(request: Request):
        return show(request, "home", ("home",), contexts.home)

    @pages.get("/path/{topic}")
    def path_page(request: Request, topic: str):
        try:
            bodies.check_query(topic, "the topic")
            known = known_of(request)
            ctx = data(("path", topic, tuple(known)), path_data, topic, known)
        except (AidlgraphError, ApiError) as exc:
            return error_page(request, exc, topic, known_of_safe(request))
        target = ctx["target"]["id"]
        if target and target != topic:  # /path/segmentation -> /path/semantic-segmentation
            return RedirectResponse(path_url(request, target, [k["id"] for k in ctx["known"]]), status_code=308)
        return html_response(render.page("path", ctx, base_of(request)))

    def known_of_safe(request) -> list[str]:
        try:
            return known_of(request)
        except InputError:
            return []

    @negotiated.get("/path")
    def path_search(request: Request):
        q = request.query_params.get("q", "")
        if not q.strip():
            return RedirectResponse(f"{base_of(request)}/", status_code=303)
        try:
            bodies.check_query(q)
            known = known_of(request)
            ctx = data(("path", q, tuple(known)), path_data, q, known)
        except (AidlgraphError, ApiError) as exc:
            return error_page(request, exc, q, known_of_safe(request))
        return RedirectResponse(path_url(request, ctx["target"]["id"], [k["id"] for k in ctx["known"]]), status_code=303)

    @pages.get("/topics/{topic}")
    def topic_page(request: Request, topic: str):
        if len(topic) > MAX_QUERY:
            return error_page(request, NotFoundError("no topic with such a long id"))
        return show(request, "topic", ("topic", topic), contexts.topic, topic)

    @negotiated.get("/topics")
    def topics_page(request: Request):
        return show(request, "topics", ("topics",), contexts.topics)

    @negotiated.get("/items/{item_id}")
    def item_page(request: Request, item_id: str):
        if len(item_id) > 200:
            return error_page(request, NotFoundError("no item with such a long id; ids are 12 characters"))
        return show(request, "item", ("item", item_id), contexts.item, item_id)

    def related_page(request, fields: dict[str, list[str]]):
        text = (fields.get("text") or fields.get("q") or [""])[0]
        options = {"k": RELATED_DEFAULT_K, "kind": [], "since": "", "before": "", "open": False}
        ctx: dict = {"text": text, "options": options, "kinds": list(KINDS), "result": None}
        try:
            options["kind"] = bodies.check_kinds([k for k in fields.get("kind", []) if k])
            raw_k = (fields.get("k") or [""])[0].strip()
            if raw_k:
                if not raw_k.isdigit() or not 1 <= int(raw_k) <= RELATED_MAX_K:
                    raise InputError(f"the number of results must be a whole number from 1 to {RELATED_MAX_K}")
                options["k"] = int(raw_k)
            options["since"] = (fields.get("since") or [""])[0].strip()
            options["before"] = (fields.get("before") or [""])[0].strip()
            options["open"] = bool(options["kind"] or options["since"] or options["before"]
                                   or options["k"] != RELATED_DEFAULT_K)
            if text.strip():
                bodies.check_draft(text)
                key = ("related", text, options["k"], tuple(options["kind"]), options["since"], options["before"])
                ctx["result"] = data(key if len(text) <= MAX_QUERY else None, contexts.related, text, k=options["k"],
                                     kinds=options["kind"], since=options["since"] or None,
                                     before=options["before"] or None)
        except (AidlgraphError, ApiError) as exc:
            ctx["error"] = exc.message if isinstance(exc, ApiError) else str(exc)
            status = exc.status if isinstance(exc, ApiError) else 400
            return html_response(render.page("related", ctx, base_of(request)), status)
        return html_response(render.page("related", ctx, base_of(request)))

    @negotiated.get("/related")
    def related_get(request: Request):
        fields: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            fields.setdefault(key, []).append(value)
        return related_page(request, fields)

    @negotiated.post("/related")
    async def related_post(request: Request):
        try:
            body = await read_form(request, bodies.MAX_BODY)
        except ApiError as exc:
            return error_page(request, exc)
        return await run_in_threadpool(related_page, request, body)

    @negotiated.get("/ask")
    def ask_page(request: Request):
        q = request.query_params.get("q", "")
        ctx: dict = {"question": q, "result": None}
        if q.strip():
            try:
                bodies.check_query(q, "the question")
                ctx["result"] = data(("ask", q), contexts.ask, q)
            except (AidlgraphError, ApiError) as exc:
                ctx["error"] = exc.message if isinstance(exc, ApiError) else str(exc)
                return html_response(render.page("ask", ctx, base_of(request)), 400)
        return html_response(render.page("ask", ctx, base_of(request)))

    @pages.get("/static/{name}")
    def static(name: str):
        if name not in render.STATIC_FILES:
            raise HTTPException(404, f"no static file {name!r}")
        media = "text/css" if name.endswith(".css") else "text/javascript"
        return Response(render.static_text(name), media_type=f"{media}; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})

    router = APIRouter(include_in_schema=False)
    router.include_router(negotiated)
    router.include_router(pages)
    return router


async def read_form(request, limit: int) -> dict[str, list[str]]:
    """A form body (``application/x-www-form-urlencoded``, UTF-8) as field -> values, refused
    with 413 past ``limit`` bytes. (Starlette's own form parser needs python-multipart; this
    needs nothing.)"""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the form is {int(declared)} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the form is over the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("ascii")  # a urlencoded body is ASCII; its values are %-encoded UTF-8
        return urllib.parse.parse_qs(text, keep_blank_values=True, errors="strict", max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "the form could not be read: send it from the page, as UTF-8") from None
