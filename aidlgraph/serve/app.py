"""The HTTP API: the CLI's questions over FastAPI, for the group's bot and other programs.

Every read endpoint returns exactly the JSON that the matching ``--json`` command prints,
because it calls the same library functions:

=========================  ==========================================
``GET /path?q=``           ``aidlgraph path Q --json``
``GET|POST /related``      ``aidlgraph related TEXT --json``
``GET|POST /ask``          ``aidlgraph ask Q --json``
``GET /topics``            ``aidlgraph topics --json``
``GET /items/{id}``        ``aidlgraph show ID --json``
``GET /healthz``           status, item count, model, library path
``POST /ingest``           only with a token (see below)
=========================  ==========================================

One process serves one library. ``LibraryService`` owns it: the library, its FAISS index,
prerequisite graph, topic vectors and the query model are loaded once at start-up; every request
runs under one lock (a request costs 1-4 ms of library work once its query embedding is cached,
so a lock is simpler than per-thread copies of the index and graph, and as fast on two cores:
the work holds the GIL anyway); the derived state is reloaded when the database's ``generation``
changes (one indexed SELECT per request), i.e. after an ingest by another process or by
``POST /ingest``. Query embeddings are memoised in memory, and whole responses are cached per
generation (``AIDLGRAPH_RESPONSE_CACHE`` entries, default 1024, 0 for none): an answer is a pure
function of the query and the library, and a group bot's questions recur. ``serve --workers N``
runs N such processes. FAISS runs single-threaded here (see ``LibraryService._warm``).

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
rest of aidlgraph, and ``LibraryService`` (used by the bot too), work without them.
"""

import collections
import contextlib
import hmac
import json
import logging
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from . import config
from .errors import AidlgraphError, CycleError, InputError, LibraryError, NotFoundError, UnknownTopicError
from .library import DB_NAME, Library

log = logging.getLogger("aidlgraph.server")

T = TypeVar("T")

MAX_QUERY = 2000            # characters of a query in ?q= (a topic or a question)
MAX_DRAFT = 200_000         # characters of a draft for POST /related (related.MAX_TEXT)
MAX_BODY = 1_000_000        # bytes of a POST /related or /ask body (a 200k-character draft, JSON-escaped)
MAX_UPLOAD = 20 * 2**20     # bytes of a POST /ingest upload
KINDS = ("resource", "news", "post", "question", "issue")
UPLOAD_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".md", ".markdown",
                   ".txt", ".text", ".rss", ".atom", ".xml")
READ_BUSY_TIMEOUT_MS = 250  # the read connection only writes the query cache; never wait on an ingest for it
MEMO_SIZE = 4096            # query embeddings kept in memory (about 1.5 KB each)
RESPONSE_CACHE = 1024       # JSON responses kept per library generation (0: none)
CACHE_TEXT_MAX = MAX_QUERY  # longer texts (drafts) are rarely repeated: not cached
MAX_KNOWN = 50              # topics in ?known= (each may cost an embedding)

ERROR_STATUS: list[tuple[type, int]] = [  # first match wins
    (NotFoundError, 404),
    (UnknownTopicError, 404),
    (CycleError, 409),
    (InputError, 400),
    (LibraryError, 503),
    (AidlgraphError, 400),
]


def error_status(exc: AidlgraphError) -> int:
    return next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))


class ApiError(Exception):
    """A request the API refuses before any library call (bad body, auth, size): status and message."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


# -- the shared library ---------------------------------------------------------------------------
class _LRU:
    """A bounded least-recently-used map (not thread-safe: used under the service lock)."""

    def __init__(self, size: int):
        self.size = size
        self._data: collections.OrderedDict = collections.OrderedDict()

    def get(self, key):
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        if self.size <= 0:
            return
        self._data[key] = value
        if len(self._data) > self.size:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()


class _ServedLibrary(Library):
    """A Library whose query embeddings are memoised in process, in front of the SQLite cache,
    so a repeated query (and each of ``ask``'s member-question texts) costs a dict lookup."""

    memo: _LRU

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.memo.get(text)
        if vector is None:
            vector = super().embed_query(text)
            vector.flags.writeable = False  # shared between requests: nobody may change it
            self.memo.put(text, vector)
        return vector


class LibraryService:
    """One library shared by concurrent callers (HTTP requests, bot messages).

    ``call(fn, ...)`` runs ``fn(lib, ...)`` under a lock, after reloading the library's derived
    state when another process (or ``ingest``) changed the database. ``json(key, fn, ...)`` does
    the same and returns the result as JSON bytes, remembered under ``key`` until the library's
    generation changes: answers are a pure function of the query and the library, and a group
    bot's questions recur. ``warm()`` loads everything a query needs, so the first request is as
    fast as the rest.
    """

    def __init__(self, path: str | os.PathLike | None = None, build: bool = True,
                 cache_size: int = RESPONSE_CACHE):
        self.path = config.library_dir(path)
        self.build = build
        self._lock = threading.Lock()
        self._ingest_lock = threading.Lock()
        self._memo = _LRU(MEMO_SIZE)
        self._responses = _LRU(cache_size)
        self._lib: _ServedLibrary | None = None
        self.generation: str | None = None
        self.reloads = 0

    # opening and reloading
    def _open(self) -> _ServedLibrary:
        lib = _ServedLibrary.open(self.path, build=self.build)
        lib.memo = self._memo
        # This connection writes only the query cache, best effort; an ingest in another process
        # holding the write lock must not stall a read for the default 30 s.
        lib.store.db.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
        return lib

    def _warm(self, lib: Library) -> None:
        import faiss

        # A request searches a handful of vectors: OpenMP's thread team costs more than it saves
        # (measured: 6 ms per search with 2 threads on a busy 2-core machine, 0.1 ms with 1).
        faiss.omp_set_num_threads(1)
        lib.index
        lib.graph
        lib.topic_vectors()

    def _current(self) -> _ServedLibrary:
        """The library, reloaded if the database moved on. Call with the lock held."""
        if self._lib is None:
            lib = self._open()
            self.generation = lib.store.get_meta("generation", "0")
            self._warm(lib)
            self._lib = lib
            return lib
        generation = self._lib.store.get_meta("generation", "0")
        if generation != self.generation:
            fresh = self._open()
            generation = fresh.store.get_meta("generation", "0")
            self._warm(fresh)
            old, self._lib, self.generation = self._lib, fresh, generation
            self._responses.clear()
            self.reloads += 1
            old.close()
            log.info("library generation %s: reloaded the index and graph", generation)
        return self._lib

    def warm(self, query: str = "how do I learn deep learning?") -> None:
        """Open the library, load its index, graph and topic vectors, and the query model."""
        with self._lock:
            lib = self._current()
            with contextlib.suppress(AidlgraphError):  # a library with no model yet still serves
                lib.embed_query(query)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return fn(self._current(), *args, **kwargs)

    def json(self, key: tuple | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """``fn(lib, ...)`` as JSON bytes (the CLI's ``emit_json`` without the indent), cached
        under ``key`` for the current generation; ``key=None`` is never cached."""
        with self._lock:
            lib = self._current()
            body = self._responses.get(key) if key is not None else None
            if body is None:
                body = to_json(fn(lib, *args, **kwargs))
                if key is not None:
                    self._responses.put(key, body)
            return body

    def close(self) -> None:
        with self._lock:
            if self._lib is not None:
                self._lib.close()
                self._lib = None

    # writing
    def ingest(self, paths: list[Path] = (), batches: list = (), wait: float = 5.0) -> dict:
        """Ingest files or loaded batches on a connection of its own, outside the read lock;
        readers pick the new generation up on their next request. A source naming an unknown
        topic is a bad request (InputError), not a missing resource."""
        from .ingest import ingest_batches
        from .corpus import load_path

        with self._ingest_lock:
            all_batches = list(batches)
            for p in paths:
                all_batches.extend(load_path(p))
            with Library.open(self.path, build=False) as writer:
                try:
                    report = ingest_batches(writer, all_batches, wait=wait)
                except UnknownTopicError as exc:
                    raise InputError(str(exc)) from None
                generation = writer.store.get_meta("generation", "0")
        out = {k: v for k, v in vars(report).items() if k != "duplicates"}
        out["seconds"] = round(report.seconds, 3)
        out["duplicates"] = [{"a": a, "b": b, "score": round(s, 4)} for a, b, s in report.duplicates]
        return {"summary": report.summary(), "report": out, "generation": generation}


# -- what the endpoints return (the CLI's --json shapes) -------------------------------------------
def to_json(data: Any) -> bytes:
    """The CLI's ``emit_json`` without the indent: the same values, no jsonable_encoder pass."""
    return json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")


def topic_rows(lib: Library) -> list[dict]:
    """The rows of ``aidlgraph topics --json``."""
    g = lib.graph
    return [{"id": t["id"], "name": t["name"], "aliases": t["aliases"],
             "prerequisites": sorted(g.nodes[p]["name"] for p in g.predecessors(t["id"])) if t["id"] in g else []}
            for t in lib.store.topics()]


def path_json(lib: Library, query: str, known: list[str], depth: int | None, per_topic: int) -> dict:
    from . import path as paths

    result = paths.reading_path(lib, query, known=known, depth=depth, per_topic=per_topic)
    return {"query": query, **result.to_json()}


def health(lib: Library, service: LibraryService) -> dict:
    counts = lib.store.count_items()
    return {"status": "ok", "items": sum(counts.values()), "kinds": counts, "model": lib.model, "dim": lib.dim,
            "library": str(lib.path), "generation": service.generation}


def _split_known(values: list[str]) -> list[str]:
    return [k for v in values for k in v.split(",") if k.strip()]


def _check_query(q: str, what: str = "q") -> str:
    if not q or not q.strip():
        raise InputError(f"{what} is empty; give a topic, a question or a text")
    if len(q) > MAX_QUERY:
        raise InputError(f"{what} is {len(q)} characters long; keep it under {MAX_QUERY} (POST a longer draft to /related)")
    return q


# -- the app ---------------------------------------------------------------------------------------
def create_app(library_path: str | os.PathLike | None = None, token: str | None = None,
               ingest_dir: str | os.PathLike | None = None, build: bool = True,
               cache_size: int | None = None):
    """The FastAPI app serving the library at ``library_path`` (default: the configured one).

    ``token`` (default ``$AIDLGRAPH_TOKEN``) enables ``POST /ingest``; ``ingest_dir`` (default
    ``$AIDLGRAPH_INGEST_DIR``) is the one directory whose files it may ingest by path;
    ``cache_size`` (default ``$AIDLGRAPH_RESPONSE_CACHE`` or 1024) is how many responses are
    kept per library generation, 0 for none.
    """
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    token = (token if token is not None else os.environ.get("AIDLGRAPH_TOKEN", "")).strip() or None
    if token and len(token) < 16:
        log.warning("the ingest token is %d characters; use a long random one (e.g. `openssl rand -hex 32`)", len(token))
    ingest_dir = ingest_dir if ingest_dir is not None else os.environ.get("AIDLGRAPH_INGEST_DIR") or None
    if cache_size is None:
        try:
            cache_size = int(os.environ.get("AIDLGRAPH_RESPONSE_CACHE") or RESPONSE_CACHE)
        except ValueError:
            raise LibraryError("AIDLGRAPH_RESPONSE_CACHE must be a number of responses (0 turns the cache off)") from None
    service = LibraryService(library_path, build=build, cache_size=cache_size)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(service.warm)
        yield
        service.close()

    app = FastAPI(title="aidlgraph", version=_version(), lifespan=lifespan,
                  description="Reading paths, related items and FAQ answers from the AIDL archive. "
                              "Each endpoint returns the JSON of the matching `aidlgraph ... --json` command.")
    app.state.service = service
    app.state.internal_errors = 0

    def reply(data: Any, status: int = 200, headers: dict | None = None) -> Response:
        body = data if isinstance(data, bytes) else to_json(data)
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    def cacheable(text: str) -> bool:
        return len(text) <= CACHE_TEXT_MAX

    # errors: always JSON with an "error" line
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
        from .library import database_error

        log.error("library database error on %s %s: %s", request.method, request.url.path, exc)
        return reply({"error": str(database_error(library_path, exc))}, 503)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception):
        app.state.internal_errors += 1
        log.exception("internal error on %s %s", request.method, request.url.path)
        return reply({"error": f"internal error ({type(exc).__name__}); see the server log"}, 500)

    # bodies
    async def read_body(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the body is {int(declared)} bytes; the limit is {limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the body is over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def media_type(request: Request) -> str:
        return request.headers.get("content-type", "").split(";")[0].strip().lower()

    def decode(data: bytes) -> str:
        if b"\x00" in data[:8192]:
            raise ApiError(400, "the body looks binary; send UTF-8 text")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError(400, "the body is not valid UTF-8; send UTF-8 text") from None

    def parse_json(data: bytes) -> Any:
        try:
            obj = json.loads(decode(data))
            json.dumps(obj, ensure_ascii=False).encode("utf-8")  # "\ud800" escapes decode to unencodable text
            return obj
        except UnicodeEncodeError:
            raise ApiError(400, "malformed JSON body: it escapes a lone surrogate (\\ud800-\\udfff); send valid Unicode") from None
        except ValueError as exc:
            raise ApiError(400, f"malformed JSON body: {exc}") from None
        except RecursionError:
            raise ApiError(400, "malformed JSON body: nested too deeply") from None

    async def text_or_json(request: Request, field: str, limit: int = MAX_BODY) -> tuple[str, dict]:
        """The text of a POST body: a JSON object's ``field`` or a text/plain body."""
        data = await read_body(request, limit)
        kind = media_type(request)
        if kind == "application/json":
            obj = parse_json(data)
            if not isinstance(obj, dict):
                raise ApiError(400, f'the JSON body must be an object such as {{"{field}": "..."}}')
            text = obj.get(field)
            if not isinstance(text, str):
                raise ApiError(400, f'the JSON body needs "{field}" as a string')
            return text, obj
        if kind in ("text/plain", "text/markdown"):
            return decode(data), {}
        raise ApiError(415, f"unsupported content type {kind or '(none)'!r}; send application/json "
                            f'({{"{field}": "..."}}) or text/plain')

    def body_spec(field: str, extra: dict | None = None) -> dict:
        props = {field: {"type": "string"}, **(extra or {})}
        return {"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object", "required": [field], "properties": props}},
            "text/plain": {"schema": {"type": "string"}}}}}

    # reads
    @app.get("/healthz", summary="Liveness, item count, model and library path")
    def healthz():
        return reply(service.call(health, service))

    @app.get("/path", summary="A reading path to a topic (aidlgraph path Q --json)")
    def get_path(q: str = Query(..., description="A topic name, alias or description."),
                 known: list[str] = Query([], description="Topics you already know (comma-separated or repeated)."),
                 depth: int | None = Query(None, ge=0, description="Prerequisite hops back."),
                 per_topic: int = Query(2, ge=1, le=20, description="Items per topic.")):
        _check_query(q)
        known = _split_known(known)
        if len(known) > MAX_KNOWN:
            raise InputError(f"known names {len(known)} topics; name at most {MAX_KNOWN}")
        return reply(service.json(("path", q, tuple(known), depth, per_topic), path_json, q, known, depth, per_topic))

    def run_related(text: str, k: int, kind: list[str], before: str | None, since: str | None,
                    exclude_source: list[str], min_score: float | None) -> Response:
        from .related import related as search

        key = ("related", text, k, tuple(kind), before, since, tuple(exclude_source), min_score)
        return reply(service.json(key if cacheable(text) else None, search, text, k=k, kinds=list(kind), before=before,
                                  since=since, exclude_sources=list(exclude_source), min_score=min_score))

    related_params = dict(
        k=Query(10, ge=1, le=500), kind=Query([], description="resource, news, post, question or issue (repeatable)."),
        before=Query(None, description="Only items dated before DATE (YYYY, YYYY-MM or YYYY-MM-DD)."),
        since=Query(None, description="Only items dated DATE or later."),
        exclude_source=Query([], description="Leave out items whose source contains this (repeatable)."),
        min_score=Query(None, description="Leave out results scoring below this."))

    def check_kinds(kinds: list[str]) -> list[str]:
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ApiError(422, f"kind: {', '.join(map(repr, bad))} is not one of {', '.join(KINDS)}")
        return kinds

    @app.get("/related", summary="Past items related to a short text (aidlgraph related TEXT --json)")
    def get_related(q: str = Query(..., description="The text to find related items for (up to 2000 characters; "
                                                     "POST longer drafts)."),
                    k: int = related_params["k"], kind: list[str] = related_params["kind"],
                    before: str | None = related_params["before"], since: str | None = related_params["since"],
                    exclude_source: list[str] = related_params["exclude_source"],
                    min_score: float | None = related_params["min_score"]):
        _check_query(q)
        return run_related(q, k, check_kinds(kind), before, since, exclude_source, min_score)

    @app.post("/related", summary="Past items related to a draft (JSON {text, k, ...} or a text/plain body)",
              openapi_extra=body_spec("text", {"k": {"type": "integer", "minimum": 1, "maximum": 500},
                                               "kind": {"type": "array", "items": {"type": "string", "enum": list(KINDS)}},
                                               "before": {"type": "string"}, "since": {"type": "string"},
                                               "exclude_source": {"type": "array", "items": {"type": "string"}},
                                               "min_score": {"type": "number"}}))
    async def post_related(request: Request, k: int = related_params["k"], kind: list[str] = related_params["kind"],
                           before: str | None = related_params["before"], since: str | None = related_params["since"],
                           exclude_source: list[str] = related_params["exclude_source"],
                           min_score: float | None = related_params["min_score"]):
        text, obj = await text_or_json(request, "text")
        options = _related_options(obj, dict(k=k, kind=kind, before=before, since=since,
                                             exclude_source=exclude_source, min_score=min_score))
        if not text.strip():
            raise InputError("the draft is empty; send the text to find related items for")
        if len(text) > MAX_DRAFT:
            raise ApiError(413, f"the draft is {len(text)} characters; keep drafts under {MAX_DRAFT}")
        check_kinds(options["kind"])
        return await run_in_threadpool(run_related, text, **options)

    def run_ask(question: str) -> Response:
        from .ask import ask as answer

        _check_query(question, "the question")
        return reply(service.json(("ask", question), answer, question))

    @app.get("/ask", summary="An answer with sources, or an abstention (aidlgraph ask Q --json)")
    def get_ask(q: str = Query(..., description="The question.")):
        return run_ask(q)

    @app.post("/ask", summary="An answer with sources (JSON {question} or a text/plain body)",
              openapi_extra=body_spec("question"))
    async def post_ask(request: Request):
        question, _ = await text_or_json(request, "question", limit=64 * 1024)
        return await run_in_threadpool(run_ask, question)

    @app.get("/topics", summary="Topics with their prerequisites (aidlgraph topics --json)")
    def get_topics():
        return reply(service.json(("topics",), topic_rows))

    @app.get("/items/{item_id}", summary="One item with its topics and related items (aidlgraph show ID --json)")
    def get_item(item_id: str):
        from .browse import item_detail

        if len(item_id) > 200:
            raise NotFoundError("no item with such a long id; ids are 12 characters")
        return reply(service.json(("item", item_id), item_detail, item_id))

    # writes
    if token:
        allowed = Path(ingest_dir).expanduser().resolve() if ingest_dir else None

        def authorise(request: Request) -> None:
            header = request.headers.get("authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                raise ApiError(401, "missing or wrong token; send the header 'Authorization: Bearer TOKEN'",
                               {"WWW-Authenticate": "Bearer"})

        def local_path(raw: Any) -> Path:
            if allowed is None:
                raise ApiError(403, "ingesting server-side paths is off; set AIDLGRAPH_INGEST_DIR on the server, "
                                    "or upload the file as the request body with ?filename=NAME.yaml")
            if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
                raise ApiError(400, '"paths" must be a list of file or folder names')
            candidate = (allowed / raw).resolve()  # an absolute raw path replaces `allowed` here
            if candidate != allowed and allowed not in candidate.parents:
                raise ApiError(403, f"{raw!r} is outside the ingest directory; only paths under "
                                    "AIDLGRAPH_INGEST_DIR can be ingested")
            if not candidate.exists():
                raise ApiError(404, f"{raw!r}: no such file or folder under the ingest directory")
            return candidate

        @app.post("/ingest", summary="Add items: an uploaded file (?filename=) or paths under AIDLGRAPH_INGEST_DIR",
                  openapi_extra={"requestBody": {"content": {
                      "application/json": {"schema": {"type": "object", "properties": {
                          "paths": {"type": "array", "items": {"type": "string"}},
                          "filename": {"type": "string"}, "text": {"type": "string"}}}},
                      "text/plain": {"schema": {"type": "string"}}}}})
        async def post_ingest(request: Request, filename: str | None = Query(
                None, description="The uploaded body's file name; its extension names the format.")):
            authorise(request)
            data = await read_body(request, MAX_UPLOAD)
            if filename is None and media_type(request) == "application/json":
                obj = parse_json(data)
                if not isinstance(obj, dict) or not ({"paths"} <= obj.keys() or {"filename", "text"} <= obj.keys()):
                    raise ApiError(400, 'send {"paths": [...]}, {"filename": "NAME.yaml", "text": "..."}, '
                                        "or the file itself as the body with ?filename=NAME.yaml")
                if "paths" in obj:
                    if not isinstance(obj["paths"], list) or not obj["paths"]:
                        raise ApiError(400, '"paths" must be a non-empty list of file or folder names')
                    paths = [local_path(p) for p in obj["paths"]]
                    return reply(await run_in_threadpool(service.ingest, paths=paths))
                filename, text = obj["filename"], obj["text"]
                if not isinstance(filename, str) or not isinstance(text, str):
                    raise ApiError(400, '"filename" and "text" must be strings')
            elif filename is None:
                raise ApiError(400, "name the uploaded file with ?filename=NAME.yaml (its extension says the format)")
            else:
                text = decode(data)
            name, body = filename, text
            return reply(await run_in_threadpool(lambda: service.ingest(batches=[upload_batch(name, body)])))

    return app


def _related_options(obj: dict, defaults: dict) -> dict:
    """related()'s options: the JSON body's, else the query string's."""
    out = dict(defaults)
    for key in ("k", "kind", "before", "since", "exclude_source", "min_score"):
        if key not in obj or obj[key] is None:
            continue
        value = obj[key]
        if key == "k" and not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 500):
            raise ApiError(422, "k: must be an integer from 1 to 500")
        if key in ("kind", "exclude_source"):
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ApiError(422, f"{key}: must be a string or a list of strings")
        if key in ("before", "since") and not isinstance(value, str):
            raise ApiError(422, f"{key}: must be a date string (YYYY, YYYY-MM or YYYY-MM-DD)")
        if key == "min_score" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ApiError(422, "min_score: must be a number")
        out[key] = value
    return out


def upload_batch(filename: str, text: str):
    """Parse an uploaded file's text as the loader for its extension would, without a file."""
    from .corpus import load_text

    name = Path(filename.replace("\\", "/")).name
    suffix = Path(name).suffix.lower()
    if not re.fullmatch(r"[\w .()+-]{1,200}", name) or suffix not in UPLOAD_SUFFIXES:
        raise ApiError(400, f"filename {filename!r}: give a plain file name ending in one of {' '.join(UPLOAD_SUFFIXES)}")
    if not text.strip():
        raise InputError(f"{name}: the upload is empty; send a file with items in it")
    batch = load_text(text, f"upload/{name}", suffix)
    if not batch.items and not batch.topics:
        raise InputError(f"{name}: found no items or topics in it; see the README for the formats ingest reads")
    return batch


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("aidlgraph")
    except Exception:  # not installed (running from a checkout)
        return "0"


def app_from_env():
    """The app for ``uvicorn --factory aidlgraph.server:app_from_env`` (and ``serve --workers N``):
    the library, token and ingest directory come from AIDLGRAPH_HOME, AIDLGRAPH_TOKEN and
    AIDLGRAPH_INGEST_DIR."""
    return create_app(build=False)


def serve(library_path: str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 8765,
          workers: int = 1, access_log: bool = True, log_level: str = "info") -> None:
    """Run the API with uvicorn until interrupted. More than one worker runs separate processes,
    each with its own copy of the index and model (the generation check keeps them in step)."""
    try:
        import uvicorn
        import fastapi  # noqa: F401
    except ImportError:
        raise LibraryError("the server needs FastAPI and uvicorn; run `pip install 'aidlgraph[server]'`") from None
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO), format="%(levelname)s: %(message)s")
    if workers == 1:
        uvicorn.run(create_app(library_path), host=host, port=port, access_log=access_log, log_level=log_level)
        return
    import socket

    from uvicorn.supervisors import Multiprocess

    os.environ["AIDLGRAPH_HOME"] = str(config.library_dir(library_path))
    settings = uvicorn.Config("aidlgraph.server:app_from_env", factory=True, host=host, port=port, workers=workers,
                              access_log=access_log, log_level=log_level)
    # uvicorn binds the workers' shared socket with protocol 0, and asyncio sets TCP_NODELAY only
    # on accepted sockets whose protocol is IPPROTO_TCP: without it every keep-alive response
    # (headers and body written separately) waits ~40 ms for a delayed ACK. Re-wrapping the
    # descriptor lets the kernel report the real protocol.
    sock = socket.socket(fileno=settings.bind_socket().detach())
    sock.set_inheritable(True)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(settings, sockets=[sock]).run()
