"""The HTTP API: the CLI's questions over FastAPI, for the group's bot and other programs.

Every read endpoint returns the JSON of the matching ``--json`` command, built by the same
``views`` function:

=========================  ==========================================
``GET /path?q=``           ``aidlgraph path Q --json``
``GET|POST /related``      ``aidlgraph related TEXT --json``
``GET|POST /ask``          ``aidlgraph ask Q --json``
``GET /topics``            ``aidlgraph topics --json``
``GET /items/{id}``        ``aidlgraph show ID --json``
``GET /healthz``           status, item count, model, library path
``POST /ingest``           only with a token (see below)
=========================  ==========================================

A browser (a request preferring ``text/html``) gets web pages instead, from ``web`` (its
docstring has the URL scheme); everything else gets this JSON, unchanged. ``/docs`` and
``/redoc`` load their scripts from the ``fastapi-offline`` package, not a CDN.

One process serves one library through a ``LibraryService`` (``aidlgraph.service``): loaded once,
reloaded when the library changes or its file is replaced; whole responses are cached per
generation (``AIDLGRAPH_RESPONSE_CACHE`` entries, 0 for none). ``serve --workers N`` runs N such
processes. Request bodies are parsed by the pure functions of ``bodies``; routes live on two
``APIRouter`` objects (reads, and the token-guarded write), with auth as a dependency.

Writes. ``POST /ingest`` exists only when a token is configured (``AIDLGRAPH_TOKEN`` or
``create_app(token=...)``) and needs ``Authorization: Bearer TOKEN``. It takes an uploaded file
(the request body, with ``?filename=NAME.yaml`` saying its format), never written to disk;
server-local ``paths`` are accepted only under the directory named by ``AIDLGRAPH_INGEST_DIR``,
because letting a remote client name any file the server can read would let it probe or read
(through error messages) files outside the corpus. The ingest runs on its own database
connection, outside the read lock, so reads stay fast while it embeds.

Errors are JSON ``{"error": "..."}`` with a 4xx status: an ``AidlgraphError`` maps by class
(``ERROR_STATUS``), FastAPI's validation errors stay 422 with an ``error`` line added, unknown
routes and methods are 404 and 405. A 500 is the last resort for a bug; it is logged and counted
in ``app.state.internal_errors``.

FastAPI and uvicorn are imported inside ``create_app`` and ``serve`` (the ``server`` extra), so the
rest of aidlgraph, and the service the bot uses, work without them. (No ``from __future__ import
annotations`` here: FastAPI reads the route functions' annotations, which name classes imported
inside the functions that build the routers.)
"""

import contextlib
import functools
import hmac
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from ..config import PER_TOPIC, settings
from ..errors import AidlgraphError, CycleError, DiskFullError, InputError, LibraryError, NotFoundError, UnknownTopicError
from ..service import LibraryService
from ..text import MAX_QUERY
from .. import views
from . import bodies, guard
from .bodies import ApiError

log = logging.getLogger("aidlgraph.server")

CACHE_TEXT_MAX = MAX_QUERY  # longer texts (drafts) are rarely repeated: not cached
ERROR_STATUS: list[tuple[type, int]] = [  # first match wins
    (NotFoundError, 404),
    (UnknownTopicError, 404),
    (CycleError, 409),
    (InputError, 400),
    (DiskFullError, 507),
    (LibraryError, 503),
    (AidlgraphError, 400),
]


def error_status(exc: AidlgraphError) -> int:
    return next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))


# -- what the endpoints compute (each returns a view) -------------------------------------------
def path_view(lib, query: str, known: list[str], depth: int | None, per_topic: int) -> dict:
    from ..query.path import reading_path

    return views.path_json(reading_path(lib, query, known=known, depth=depth, per_topic=per_topic))


def related_view(lib, text: str, **options) -> dict:
    from ..query.related import related

    return views.related_json(related(lib, text, **options))


def ask_view(lib, question: str) -> dict:
    from ..query.ask import ask

    return views.ask_json(ask(lib, question))


def item_view(lib, item_id: str) -> dict:
    from ..query.browse import item_detail

    return views.item_json(item_detail(lib, item_id))


def health_view(lib, service: LibraryService) -> dict:
    status, reason = service.health(lib)
    return views.health_json(lib, service.generation, status, reason)


def health_body(service: LibraryService) -> dict:
    """``/healthz``: the health view, or status ``error`` for a library that cannot be opened or counted."""
    from ..library import database_error

    try:
        return service.call(health_view, service)
    except (LibraryError, sqlite3.DatabaseError) as exc:
        reason = str(database_error(service.path, exc) if isinstance(exc, sqlite3.DatabaseError) else exc)
        return views.health_error_json(service.path, service.generation, reason)


# -- the app ---------------------------------------------------------------------------------------
def create_app(library_path: str | os.PathLike | None = None, token: str | None = None,
               ingest_dir: str | os.PathLike | None = None, cache_size: int | None = None,
               host: str | None = None, allowed_hosts: list[str] | tuple[str, ...] = ()):
    """The FastAPI app serving the library at ``library_path`` (default: the configured one).

    ``token`` (default ``$AIDLGRAPH_TOKEN``) enables ``POST /ingest``; ``ingest_dir`` (default
    ``$AIDLGRAPH_INGEST_DIR``) is the one directory whose files it may ingest by path;
    ``cache_size`` (default ``$AIDLGRAPH_RESPONSE_CACHE`` or 1024) is how many responses are
    kept per library generation, 0 for none. Requests are answered only when their ``Host`` is
    ``localhost``, ``127.0.0.1``, ``::1``, ``host`` (the address the server is bound to), or one of
    ``allowed_hosts`` and ``$AIDLGRAPH_ALLOWED_HOSTS`` (see ``guard``).
    """
    from fastapi_offline import FastAPIOffline  # /docs and /redoc from local assets, no CDN
    from starlette.concurrency import run_in_threadpool

    from .web import web_routes

    conf = settings()
    token = (token if token is not None else conf.token or "").strip() or None
    if token and len(token) < 16:
        log.warning("the ingest token is %d characters; use a long random one (e.g. `openssl rand -hex 32`)", len(token))
    ingest_dir = ingest_dir if ingest_dir is not None else conf.ingest_dir
    service = LibraryService(library_path, cache_size=cache_size)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            await run_in_threadpool(service.warm)
        except (AidlgraphError, sqlite3.DatabaseError) as exc:
            # A damaged library still gets a server: /healthz says what is wrong (503), and every
            # endpoint answers with the same one line, until the library is repaired or replaced.
            log.error("the library cannot be served: %s", exc)
        yield
        service.close()

    app = FastAPIOffline(title="aidlgraph", version=_version(), lifespan=lifespan,
                         description="Reading paths, related items and FAQ answers from the AIDL archive. "
                                     "Each endpoint returns the JSON of the matching `aidlgraph ... --json` command.")
    app.state.service = service
    app.state.internal_errors = 0
    _add_error_handlers(app, library_path)
    app.include_router(web_routes(service))  # first: its pages answer only requests that prefer HTML
    app.include_router(read_routes(service))
    if token:
        allowed = Path(ingest_dir).expanduser().resolve() if ingest_dir else None
        app.include_router(write_routes(service, token, allowed))
    app.add_middleware(guard.GuardMiddleware, allowed=guard.allowed_hosts(host, [*conf.allowed_hosts, *allowed_hosts]))
    return app


def reply(data: Any, status: int = 200, headers: dict | None = None):
    from fastapi.responses import Response

    body = data if isinstance(data, bytes) else views.dumps(data).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _add_error_handlers(app, library_path) -> None:
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(AidlgraphError)
    async def on_user_error(request: Request, exc: AidlgraphError):
        body = {"error": str(exc)}
        if isinstance(exc, UnknownTopicError):
            body["suggestions"] = exc.suggestions
        return reply(body, error_status(exc))

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError):
        return reply({"error": exc.message}, exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        lines = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', 'invalid')}" for e in errors]
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
        return reply({"error": "; ".join(lines) or "invalid request", "detail": detail}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        return reply({"error": str(exc.detail)}, exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(sqlite3.DatabaseError)
    async def on_damaged_library(request: Request, exc: sqlite3.DatabaseError):
        from ..library import database_error, is_damage

        log.error("library database error on %s %s: %s", request.method, request.url.path, exc)
        error = database_error(library_path, exc)
        if is_damage(exc):
            app.state.service.failed(str(error))  # /healthz reports it until the library changes
        return reply({"error": str(error)}, error_status(error))

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception):
        app.state.internal_errors += 1
        log.exception("internal error on %s %s", request.method, request.url.path)
        return reply({"error": f"internal error ({type(exc).__name__}); see the server log"}, 500)


async def read_body(request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is {int(declared)} bytes; the limit is {limit}")
    from starlette.requests import ClientDisconnect

    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the body is over the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # the client went away, or the server's body clock closed it (guard)
        raise ApiError(408, "the connection closed before the body arrived") from None
    return b"".join(chunks)


def _body_spec(field: str, extra: dict | None = None) -> dict:
    props = {field: {"type": "string"}, **(extra or {})}
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "required": [field], "properties": props}},
        "text/plain": {"schema": {"type": "string"}}}}}


def read_routes(service: LibraryService):
    """GET /healthz, /path, /related, /ask, /topics, /items/ID and POST /related, /ask."""
    from fastapi import APIRouter, Query, Request
    from starlette.concurrency import run_in_threadpool

    router = APIRouter()

    def cacheable(text: str) -> bool:
        return len(text) <= CACHE_TEXT_MAX

    @router.get("/healthz", summary="The library's state (ok, degraded or error, with the reason), item count, "
                                     "model and path")
    def healthz():
        body = health_body(service)
        return reply(body, 503 if body["status"] == "error" else 200)

    @router.get("/path", summary="A reading path to a topic (aidlgraph path Q --json)")
    def get_path(q: str = Query(..., description="A topic name, alias or description."),
                 known: list[str] = Query([], description="Topics you already know (comma-separated or repeated)."),
                 depth: int | None = Query(None, ge=0, description="Prerequisite hops back."),
                 per_topic: int = Query(PER_TOPIC, ge=1, le=20, description="Readings at the target (one fewer at each earlier step).")):
        bodies.check_query(q)
        known = bodies.split_known(known)
        try:
            return reply(service.json(("path", q, tuple(known), depth, per_topic), path_view, q, known, depth, per_topic))
        except UnknownTopicError as exc:  # no path: the CLI's JSON for it (closest topics, items), as a 404
            return reply({**views.unresolved_json(q, exc), "suggestions": exc.suggestions}, 404)

    def run_related(text: str, k: int, kind: list[str], before: str | None, since: str | None,
                    exclude_source: list[str], min_score: float | None):
        key = ("related", text, k, tuple(kind), before, since, tuple(exclude_source), min_score)
        return reply(service.json(key if cacheable(text) else None, related_view, text, k=k, kinds=list(kind),
                                  before=before, since=since, exclude_sources=list(exclude_source), min_score=min_score))

    params = dict(
        k=Query(10, ge=1, le=500), kind=Query([], description="resource, news, post, question or issue (repeatable)."),
        before=Query(None, description="Only items dated before DATE (YYYY, YYYY-MM or YYYY-MM-DD)."),
        since=Query(None, description="Only items dated DATE or later."),
        exclude_source=Query([], description="Leave out items whose source contains this (repeatable)."),
        min_score=Query(None, description="Leave out results scoring below this."))

    @router.get("/related", summary="Past items related to a short text (aidlgraph related TEXT --json)")
    def get_related(q: str = Query(..., description="The text to find related items for (up to 2000 characters; "
                                                     "POST longer drafts)."),
                    k: int = params["k"], kind: list[str] = params["kind"], before: str | None = params["before"],
                    since: str | None = params["since"], exclude_source: list[str] = params["exclude_source"],
                    min_score: float | None = params["min_score"]):
        bodies.check_query(q)
        return run_related(q, k, bodies.check_kinds(kind), before, since, exclude_source, min_score)

    @router.post("/related", summary="Past items related to a draft (JSON {text, k, ...} or a text/plain body)",
                 openapi_extra=_body_spec("text", {"k": {"type": "integer", "minimum": 1, "maximum": 500},
                                                   "kind": {"type": "array", "items": {"type": "string"}},
                                                   "before": {"type": "string"}, "since": {"type": "string"},
                                                   "exclude_source": {"type": "array", "items": {"type": "string"}},
                                                   "min_score": {"type": "number"}}))
    async def post_related(request: Request, k: int = params["k"], kind: list[str] = params["kind"],
                           before: str | None = params["before"], since: str | None = params["since"],
                           exclude_source: list[str] = params["exclude_source"],
                           min_score: float | None = params["min_score"]):
        data = await read_body(request, bodies.MAX_BODY)
        text, obj = bodies.text_or_json(data, request.headers.get("content-type"), "text")
        options = bodies.related_options(obj, dict(k=k, kind=kind, before=before, since=since,
                                                   exclude_source=exclude_source, min_score=min_score))
        bodies.check_draft(text)
        bodies.check_kinds(options["kind"])
        return await run_in_threadpool(run_related, text, **options)

    def run_ask(question: str):
        bodies.check_query(question, "the question")
        return reply(service.json(("ask", question), ask_view, question))

    @router.get("/ask", summary="An answer with sources, or an abstention (aidlgraph ask Q --json)")
    def get_ask(q: str = Query(..., description="The question.")):
        return run_ask(q)

    @router.post("/ask", summary="An answer with sources (JSON {question} or a text/plain body)",
                 openapi_extra=_body_spec("question"))
    async def post_ask(request: Request):
        data = await read_body(request, bodies.MAX_QUESTION_BODY)
        question, _ = bodies.text_or_json(data, request.headers.get("content-type"), "question")
        return await run_in_threadpool(run_ask, question)

    @router.get("/topics", summary="Topics with their prerequisites (aidlgraph topics --json)")
    def get_topics():
        return reply(service.json(("topics",), views.topics_json))

    @router.get("/items/{item_id}", summary="One item with its topics and related items (aidlgraph show ID --json)")
    def get_item(item_id: str):
        if len(item_id) > 200:
            raise NotFoundError("no item with such a long id; ids are 12 characters")
        return reply(service.json(("item", item_id), item_view, item_id))

    return router


def write_routes(service: LibraryService, token: str, allowed: Path | None):
    """POST /ingest, behind a bearer token."""
    from fastapi import APIRouter, Depends, Query, Request
    from starlette.concurrency import run_in_threadpool

    def authorise(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "missing or wrong token; send the header 'Authorization: Bearer TOKEN'",
                           {"WWW-Authenticate": "Bearer"})

    router = APIRouter(dependencies=[Depends(authorise)])

    @router.post("/ingest", summary="Add items: an uploaded file (?filename=) or paths under AIDLGRAPH_INGEST_DIR",
                 openapi_extra={"requestBody": {"content": {
                     "application/json": {"schema": {"type": "object", "properties": {
                         "paths": {"type": "array", "items": {"type": "string"}},
                         "filename": {"type": "string"}, "text": {"type": "string"}}}},
                     "text/plain": {"schema": {"type": "string"}}}}})
    async def post_ingest(request: Request, filename: str | None = Query(
            None, description="The uploaded body's file name; its extension names the format.")):
        data = await read_body(request, bodies.MAX_UPLOAD)
        if filename is None and bodies.media_type(request.headers.get("content-type")) == "application/json":
            paths, filename, text = bodies.ingest_request(bodies.parse_json(data))
            if paths is not None:
                resolved = [bodies.local_path(allowed, p) for p in paths]
                return reply(await run_in_threadpool(service.ingest, paths=resolved))
        elif filename is None:
            raise ApiError(400, "name the uploaded file with ?filename=NAME.yaml (its extension says the format)")
        else:
            text = bodies.decode_upload(data, filename)
        name, body = filename, text
        return reply(await run_in_threadpool(lambda: service.ingest(batches=[bodies.upload_batch(name, body)])))

    return router


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("aidlgraph")
    except Exception:  # not installed (running from a checkout)
        return "0"


def serve(library_path: str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 8765,
          workers: int = 1, access_log: bool = True, log_level: str = "info") -> None:
    """Run the API with uvicorn until interrupted. More than one worker runs separate processes,
    each with its own copy of the index and model (the generation check keeps them in step)."""
    try:
        import uvicorn
        import fastapi  # noqa: F401
        import fastapi_offline  # noqa: F401
        import jinja2  # noqa: F401
    except ImportError:
        raise LibraryError("the server needs FastAPI, uvicorn and fastapi-offline; run `pip install 'aidlgraph[server]'`") from None
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO), format="%(levelname)s: %(message)s")
    path = settings().library_dir(library_path)
    from .protocol import GuardedH11Protocol as protocol
    if workers == 1:
        uvicorn.run(create_app(path, host=host), host=host, port=port, access_log=access_log, log_level=log_level,
                    http=protocol)
        return
    import socket

    from uvicorn.supervisors import Multiprocess

    # Each worker process builds its own app from this (picklable) factory: no environment to set.
    settings_ = uvicorn.Config(functools.partial(create_app, path, host=host), factory=True, host=host, port=port,
                               workers=workers, access_log=access_log, log_level=log_level, http=protocol)
    # uvicorn binds the workers' shared socket with protocol 0, and asyncio sets TCP_NODELAY only
    # on accepted sockets whose protocol is IPPROTO_TCP: without it every keep-alive response
    # (headers and body written separately) waits ~40 ms for a delayed ACK. Re-wrapping the
    # descriptor lets the kernel report the real protocol.
    sock = socket.socket(fileno=settings_.bind_socket().detach())
    sock.set_inheritable(True)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(settings_, sockets=[sock]).run()
