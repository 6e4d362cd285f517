"""The command line: parses options, calls the library, prints. No work is done here.

Heavy modules are imported inside the commands that need them, so `aidlgraph path` on a known
topic never imports torch.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import sys

import click

from .config import BACKENDS, PER_TOPIC, settings
from .corpus.model import KINDS
from .errors import AidlgraphError, is_disk_full


class Context:
    def __init__(self, library: str | None, wait: float):
        self.library_path = library
        self.wait = wait
        self.settings = settings()
        self._lib = None

    def use_library(self, path: str) -> None:
        """A subcommand's own --library replaces the global one."""
        self.library_path, self._lib = path, None

    @property
    def progress(self) -> bool:
        return sys.stderr.isatty() or self.settings.progress

    def lib(self, backend: str | None = None):
        """The library, built from the shipped corpus first when there is none."""
        if self._lib is None:
            from .build.bootstrap import open_or_create
            from .library import DB_NAME

            path = self.settings.library_dir(self.library_path)
            if not (path / DB_NAME).exists():
                click.echo(f"No library at {path} yet: building it from the shipped corpus (first run only)...", err=True)
            self._lib = open_or_create(self.library_path, progress=self.progress, backend=backend)
        return self._lib


pass_ctx = click.make_pass_decorator(Context)


class WarningLine(logging.Handler):
    """aidlgraph's warnings (a library running degraded, a file read with a fallback encoding, an
    ONNX export that could not be written) as ``warning: ...`` lines on standard error."""

    def emit(self, record: logging.LogRecord) -> None:
        click.secho(f"warning: {record.getMessage()}", fg="yellow", err=True)  # stderr as it is now


def show_warnings(on: bool = True) -> None:
    """Print warnings as lines (on), or leave them to the logging setup of a server or bot (off)."""
    logger = logging.getLogger("aidlgraph")
    for handler in [h for h in logger.handlers if isinstance(h, WarningLine)]:
        logger.removeHandler(handler)
    if on:
        logger.addHandler(WarningLine(logging.WARNING))


def emit_json(data) -> None:
    from .views import dumps

    click.echo(dumps(data, indent=2))


class UserError(click.ClickException):
    """An AidlgraphError on its way out: one red line, exit code 1."""

    def show(self, file=None) -> None:
        click.secho(f"error: {self.message}", fg="red", err=True)


class Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AidlgraphError as exc:
            raise UserError(str(exc)) from None
        except sqlite3.DatabaseError as exc:  # a damaged page met mid-command, or a busy database
            from .library import database_error

            obj = ctx.find_object(Context)
            raise UserError(str(database_error(obj.library_path if obj else None, exc))) from None


@click.group(cls=Group)
@click.version_option(package_name="aidlgraph")
@click.option("--library", "library", metavar="DIR", envvar="AIDLGRAPH_HOME",
              help="Library directory (default: the user data dir; env AIDLGRAPH_HOME).")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS",
              help="How long a write waits for another writer to finish before failing.")
@click.pass_context
def cli(ctx: click.Context, library: str | None, wait: float) -> None:
    """aidlgraph: reading paths, related items and FAQ answers from the AIDL archive."""
    show_warnings()
    ctx.obj = Context(library, wait)


# -- the library --------------------------------------------------------------------------------
@cli.command()
@click.option("--empty", is_flag=True, help="Create an empty library instead of one with the shipped corpus.")
@click.option("--force", is_flag=True, help="Replace an existing library.")
@pass_ctx
def init(ctx: Context, empty: bool, force: bool) -> None:
    """Create a library, with the shipped corpus (default) or empty."""
    from .build.bootstrap import create
    from .library import Library

    path = create(ctx.library_path, empty=empty, force=force, progress=True)
    with Library.open(path) as lib:
        counts = lib.store.count_items()
    click.echo(f"created {'an empty ' if empty else ''}library at {path}"
               + ("" if empty else f" with {sum(counts.values())} items"))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--prune", is_flag=True, help="Remove items that are gone from these sources.")
@click.option("--strict", is_flag=True, help="A file of a folder with nothing to read is an error, not skipped.")
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
              help="How texts are embedded: onnx (onnxruntime, no torch), torch (sentence-transformers) or "
                   "auto (onnx where it can be had; the default, or env AIDLGRAPH_BACKEND).")
@pass_ctx
def ingest(ctx: Context, paths: tuple[str, ...], prune: bool, strict: bool, backend: str | None) -> None:
    """Add files or folders (YAML, JSON, JSONL, CSV, TSV, Markdown, text, RSS/Atom).

    In a folder, files with nothing to read are skipped (one line each says so), and licences,
    changelogs and package manifests are passed over; a file named on its own must hold items."""
    from .build.ingest import ingest as run

    report = run(ctx.lib(backend=backend), paths, prune=prune, progress=True, wait=ctx.wait, strict=strict)
    click.echo(report.summary())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def stats(ctx: Context, as_json: bool) -> None:
    """Counts of items by kind, topics and edges by kind."""
    from .views import stats_json

    data = stats_json(ctx.lib())
    if as_json:
        emit_json(data)
        return
    click.echo(f"library: {data['library']}")
    click.echo(f"items:   {sum(data['items'].values())} (" + ", ".join(f"{k} {v}" for k, v in data["items"].items()) + ")")
    click.echo(f"topics:  {data['topics']}")
    click.echo("edges:   " + ", ".join(f"{k} {v}" for k, v in data["edges"].items()))
    click.echo(f"model:   {data['model']} ({data['dim']} dims)")


@cli.command()
@click.option("--topic", help="Only items about this topic.")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def items(ctx: Context, topic: str | None, kind: str | None, as_json: bool) -> None:
    """List items."""
    from .query.resolve import resolve_topic
    from .views import items_json

    lib = ctx.lib()
    rows = lib.store.items(topic=resolve_topic(lib, topic).topic_id if topic else None, kind=kind)
    if as_json:
        emit_json(items_json(rows))
        return
    for r in rows:
        click.echo(f"{r['id']}  {r['kind']:<8} {r['title'][:90]}")
    click.echo(f"{len(rows)} items", err=True)


@cli.command()
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def show(ctx: Context, item_id: str, as_json: bool) -> None:
    """Show one item, its topics and its related items."""
    from .query.browse import item_detail
    from .views import duration_text, item_json

    detail = item_json(item_detail(ctx.lib(), item_id))
    if as_json:
        emit_json(detail)
        return
    click.echo(f"{detail['title']}  [{detail['kind']}]  id {detail['id']}")
    for key in ("url", "source", "date"):
        if detail.get(key):
            click.echo(f"{key}: {detail[key]}")
    if detail["authors"]:
        click.echo(f"authors: {', '.join(detail['authors'])}")
    if detail.get("series"):
        click.echo(f"series: {detail['series']} (part {detail.get('position')})")
    facts = [detail.get("medium") or "", detail.get("level") or "", {True: "free", False: "paid"}.get(detail.get("free"), ""),
             "recommended" if detail.get("core") else "", duration_text(detail["minutes"]) if detail.get("minutes") else ""]
    if any(facts):
        click.echo("for learners: " + ", ".join(f for f in facts if f))
    click.echo("topics: " + (", ".join(f"{t['name']} ({t['source']})" for t in detail["topic_edges"]) or "none"))
    if detail["text"]:
        click.echo("")
        click.echo(detail["text"])
    if detail["related"]:
        click.echo("\nrelated:")
        for r in detail["related"]:
            click.echo(f"  {r['id']}  {r['score']:.2f}  {r['title'][:80]}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def topics(ctx: Context, as_json: bool) -> None:
    """List topics with their prerequisites."""
    from .views import topics_json

    rows = topics_json(ctx.lib())
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        pre = f"  <- {', '.join(r['prerequisites'])}" if r["prerequisites"] else ""
        click.echo(f"{r['name']}{pre}")


# -- the learner's command ------------------------------------------------------------------
@cli.command()
@click.argument("query")
@click.option("--known", default="", metavar="T1,T2", help="Topics you already know (comma-separated).")
@click.option("--depth", type=click.IntRange(min=0), help="How many prerequisite hops back to go.")
@click.option("--per-topic", type=click.IntRange(min=1, max=20), default=PER_TOPIC, show_default=True,
              help="Readings at the target (one fewer, at least one, at each earlier step).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "mermaid", "html"]), default="text",
              help="html: the web page of the path (graph and steps) as one self-contained file.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str), metavar="FILE",
              help="Write to FILE instead of standard output.")
@pass_ctx
def path(ctx: Context, query: str, known: str, depth: int | None, per_topic: int, fmt: str, as_json: bool,
         output: str | None) -> None:
    """An ordered reading path to QUERY: prerequisites first, the reading for each step, and why.

    When QUERY names no topic the library has, or could name several, it says so (with the
    closest topics and items) and exits 1."""
    from . import views
    from .errors import UnknownTopicError
    from .query.path import reading_path

    lib = ctx.lib()
    known_list = [k for k in known.split(",") if k.strip()]
    fmt = "json" if as_json else fmt
    try:
        result = reading_path(lib, query, known=known_list, depth=depth, per_topic=per_topic)
    except UnknownTopicError as exc:
        if fmt == "json":
            emit_json(views.unresolved_json(query, exc))
        else:
            click.echo(views.unresolved_text(query, exc), err=True)
        sys.exit(1)
    if fmt == "json":
        text = views.dumps(views.path_json(result), indent=2)
    elif fmt == "markdown":
        text = views.path_markdown(result)
    elif fmt == "mermaid":
        text = views.path_mermaid(lib, result)
    elif fmt == "html":
        from .pages import path_file

        text = path_file(lib, result, known_list)
    else:
        text = views.path_text(result)
    if output:
        write_output(output, text)
        click.echo(f"wrote {output}" + (" (open it in a browser)" if fmt == "html" else ""), err=True)
    else:
        click.echo(text)


def write_output(path: str, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, renamed into
    place), with one clear line when it cannot be written."""
    from pathlib import Path

    target = Path(path).expanduser()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AidlgraphError(f"cannot write {target}: {exc.strerror or exc}; choose another file with -o") from None


# -- the curator's command ------------------------------------------------------------------
@cli.command()
@click.argument("text", required=False)
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=str), help="A draft (Markdown or text).")
@click.option("-k", "k", type=click.IntRange(min=1, max=500), default=10, show_default=True)
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS))
@click.option("--before", metavar="DATE", help="Only items dated before DATE (YYYY, YYYY-MM or YYYY-MM-DD).")
@click.option("--since", metavar="DATE", help="Only items dated DATE or later.")
@click.option("--exclude-source", "exclude", multiple=True, metavar="S", help="Leave out items whose source contains S.")
@click.option("--min-score", type=float, help="Leave out results scoring below this.")
@click.option("--floor", type=click.FloatRange(0.0, 2.0), metavar="X",
              help="Relevance a part's best match needs for the part to get results (default 0.45; 0 lists every candidate).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def related(ctx: Context, text: str | None, file: str | None, k: int, kinds: tuple[str, ...], before: str | None,
            since: str | None, exclude: tuple[str, ...], min_score: float | None, floor: float | None,
            as_json: bool) -> None:
    """Past items related to TEXT, a --file draft, or standard input ("-").

    A draft is searched a paragraph at a time; each result says which part it answers, and a
    part the archive already covers is flagged."""
    from .query.related import related as search
    from .views import related_json, related_text

    text = _draft_text(text, file)
    result = related_json(search(ctx.lib(), text, k=k, kinds=list(kinds), before=before, since=since,
                                 exclude_sources=list(exclude), min_score=min_score, floor=floor))
    if as_json:
        emit_json(result)
        return
    if len(result["parts"]) > 1:
        left = f"; the last {result['skipped_parts']} were left out (split the draft)" if result.get("skipped_parts") else ""
        click.echo(f"searched {len(result['parts'])} parts of the draft{left}", err=True)
    click.echo(related_text(result))


def _draft_text(text: str | None, file: str | None) -> str:
    """The text to search: TEXT, the --file, or standard input ("-", or piped in)."""
    from pathlib import Path

    from .corpus import read_text

    if file and text:
        raise click.UsageError("give either TEXT or --file, not both")
    if file:
        text = read_text(Path(file))
    elif text == "-" or (text is None and not sys.stdin.isatty()):
        text = sys.stdin.read()
    if not text or not text.strip():
        raise click.UsageError("give the text to search for, --file DRAFT.md, or '-' to read standard input")
    return text


@cli.command()
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=str),
              help="A draft: say which of its parts the archive already covers, instead of listing pairs.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="Cosine two items from different sources need to count as duplicates (default 0.80).")
@click.option("--all", "show_all", is_flag=True,
              help="Also parts of one series, and close pairs linking to different URLs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def dupes(ctx: Context, file: str | None, threshold: float | None, show_all: bool, as_json: bool) -> None:
    """Duplicate pairs across the library (flagged, never merged), or, with --file, the parts of a
    draft that past items already cover."""
    from .query.related import DUPLICATE_MIN, duplicates, related
    from .views import covered_json, covered_text, dupes_json, dupes_text

    if file:
        view = covered_json(related(ctx.lib(), _draft_text(None, file), k=5))
        if as_json:
            emit_json(view)
            return
        click.echo(covered_text(view))
        click.echo(f"{view['covered']} of {len(view['parts'])} parts already covered", err=True)
        return
    threshold = DUPLICATE_MIN if threshold is None else threshold
    pairs = dupes_json(duplicates(ctx.lib(), threshold, include_other_links=show_all, include_series=show_all))
    if as_json:
        emit_json(pairs)
        return
    if pairs:
        click.echo(dupes_text(pairs))
    counts = {}
    for p in pairs:
        counts[p["relation"]] = counts.get(p["relation"], 0) + 1
    summary = ", ".join(f"{n} {r}" for r, n in counts.items()) or "no pairs"
    click.echo(f"{summary} (duplicates at cosine >= {threshold:.2f})", err=True)


# -- the bot's command ------------------------------------------------------------------------
@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def ask(ctx: Context, question: str, as_json: bool) -> None:
    """Answer QUESTION from the archive with sources, or say plainly that it does not know."""
    from .query.ask import ask as answer
    from .views import ask_json

    result = ask_json(answer(ctx.lib(), question))
    if as_json:
        emit_json(result)
        return
    from .views import answer_text

    click.echo(answer_text(result))


@cli.command()
@click.option("--repair", "fix", is_flag=True, help="Repair what can be repaired.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def check(ctx: Context, fix: bool, as_json: bool) -> None:
    """Verify the library (schema, model, vectors vs index, graph, edges); --repair fixes it."""
    from .query.check import open_for_check, repair, verify
    from .views import check_json

    lib = open_for_check(ctx.settings.library_dir(ctx.library_path))
    done = repair(lib, progress=True) if fix else []
    report = check_json(verify(lib), done)
    if as_json:
        emit_json(report)
    else:
        for line in done:
            click.echo(f"repaired: {line}")
        for line in report["notes"]:
            click.echo(f"note: {line}")
        kind = report.get("index_kind") or {}
        search = (f"approximate: IVF, {kind['nlist']} lists, {kind['nprobe']} searched, recall@10 "
                  f"{kind.get('recall_at_10_checked', kind.get('recall_at_10'))}" if kind.get("kind") == "ivf" else "exact")
        click.echo(f"{report['items']} items, index {report['index']} ({search}), model {report['model']} "
                   f"({report['dim']} dims)")
        click.echo("consistent" if report["ok"] else "problems:\n  " + "\n  ".join(report["problems"]))
        if not report["ok"] and not fix:
            click.echo("run `aidlgraph check --repair` to fix them")
    if not report["ok"]:
        sys.exit(1)


# -- the graph ------------------------------------------------------------------------------
@cli.group(cls=Group)
def graph() -> None:
    """Check, export and grow the prerequisite graph."""


@graph.command("check")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def graph_check(ctx: Context, as_json: bool) -> None:
    """Validate the graph: cycles, dangling edges, topics with no items."""
    from .query.browse import graph_report
    from .views import graph_check_json

    report = graph_check_json(graph_report(ctx.lib()))
    if as_json:
        emit_json(report)
    else:
        click.echo(f"{report['topics']} topics, {report['prereq_edges']} prerequisite edges")
        click.echo("cycle: " + (" -> ".join(report["cycle"]) if report["cycle"] else "none"))
        click.echo(f"dangling edges: {len(report['dangling'])}")
        for src, dst in report["dangling"][:20]:
            click.echo(f"  {src} -> {dst}")
        click.echo(f"topics without items: {len(report['topics_without_items'])}")
        for name in report["topics_without_items"][:50]:
            click.echo(f"  {name}")
    if report["cycle"] or report["dangling"]:
        sys.exit(1)


@graph.command("export")
@click.option("--format", "fmt", type=click.Choice(["graphml", "json", "dot", "mermaid"]), default="json")
@click.option("--topic", help="Only this topic's neighbourhood (its prerequisites and what builds on it).")
@pass_ctx
def graph_export(ctx: Context, fmt: str, topic: str | None) -> None:
    """Print the prerequisite graph as GraphML, JSON, DOT or Mermaid."""
    from . import graph as graphs
    from .query.resolve import resolve_topic

    lib = ctx.lib()
    g = lib.graph
    if topic:
        g = graphs.neighbourhood(g, resolve_topic(lib, topic).topic_id)
    click.echo(graphs.export(g, fmt))


# -- serving ------------------------------------------------------------------------------------
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; the default is reachable from this machine only.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--workers", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Server processes (each loads its own index and model).")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every request.")
@pass_ctx
def serve(ctx: Context, host: str, port: int, workers: int, access_log: bool) -> None:
    """Serve the web pages (open http://127.0.0.1:8765/) and the JSON API: path, related, ask,
    topics and items, as with --json, for any client that does not ask for HTML; docs at /docs.

    POST /ingest is enabled only when AIDLGRAPH_TOKEN is set (bearer auth); it takes uploaded files,
    and server-side paths only under AIDLGRAPH_INGEST_DIR.
    """
    from .serve import serve as run

    show_warnings(False)  # the server logs them, with its own format
    path = ctx.lib().path  # builds the default library first, with the same message as other commands
    ctx.lib().close()
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: serving on {host}: anyone who can reach port {port} can query this library"
                   + ("; POST /ingest needs the token" if ctx.settings.token else "")
                   + "; requests must name this machine (or a name in AIDLGRAPH_ALLOWED_HOSTS) as their Host",
                   err=True)
    run(path, host=host, port=port, workers=workers, access_log=access_log)


@cli.group(cls=Group)
def bot() -> None:
    """Chat bots answering from the archive."""


@bot.command("telegram")
@pass_ctx
def bot_telegram(ctx: Context) -> None:
    """Run the Telegram bot (token in TELEGRAM_BOT_TOKEN; needs `pip install 'aidlgraph[telegram]'`)."""
    from .bot.telegram import run

    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        raise click.UsageError("set TELEGRAM_BOT_TOKEN to the token @BotFather gave you")
    show_warnings(False)  # the bot logs them, with its own format
    path = ctx.lib().path
    ctx.lib().close()
    run(token, path)


@graph.command("suggest")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many.")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Leave out suggestions scoring below this.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def graph_suggest(ctx: Context, limit: int, min_confidence: float, as_json: bool) -> None:
    """Propose missing prerequisite edges, each with its confidence and evidence."""
    from .query.suggest import suggest
    from .views import suggestions_json

    found = suggest(ctx.lib(), limit=limit, min_confidence=min_confidence)
    if as_json:
        emit_json(suggestions_json(found))
        return
    if not found:
        click.echo(f"no suggestions at confidence >= {min_confidence}")
        return
    for s in found:
        click.echo(f"{s.confidence:.2f}  {s.src_name} -> {s.dst_name}")
        click.echo(f"      why: {s.why}")
    click.echo("record a decision: aidlgraph graph accept|reject SRC DST", err=True)


@graph.command("accept")
@click.argument("src")
@click.argument("dst")
@click.option("--reason", default="", help="Why SRC comes before DST (shown in reading paths).")
@pass_ctx
def graph_accept(ctx: Context, src: str, dst: str, reason: str) -> None:
    """Accept SRC -> DST as a curated prerequisite edge (refused if it would make a cycle)."""
    from .build.curate import accept

    done = accept(ctx.lib(), src, dst, reason=reason, wait=ctx.wait)
    for line in done.resolved:
        click.echo(line, err=True)
    click.echo(f"accepted {done.src} -> {done.dst}: {done.what}")


@graph.command("reject")
@click.argument("src")
@click.argument("dst")
@click.option("--reason", default="", help="A note for the record.")
@pass_ctx
def graph_reject(ctx: Context, src: str, dst: str, reason: str) -> None:
    """Reject SRC -> DST: it is never suggested again."""
    from .build.curate import reject

    done = reject(ctx.lib(), src, dst, note=reason, wait=ctx.wait)
    for line in done.resolved:
        click.echo(line, err=True)
    click.echo(f"rejected {done.src} -> {done.dst}: {done.what}")


# -- importers ------------------------------------------------------------------------------
@cli.group("import", cls=Group)
def import_group() -> None:
    """Bring another project's knowledge graph into the library."""


@import_group.command("metacademy")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--library", "library", metavar="DIR", help="Library directory (as the global --library).")
@pass_ctx
def import_metacademy(ctx: Context, file: str, library: str | None) -> None:
    """Metacademy's graph_data.json: concepts, dependencies and resources (re-importing is a no-op)."""
    from .build.imports import import_metacademy as run

    if library:
        ctx.use_library(library)
    report = run(ctx.lib(), file, progress=True, wait=ctx.wait)
    click.echo(report.summary())


def main() -> None:
    """Entry point: user errors are one line and exit 1; nothing else shows a traceback."""
    try:
        cli(prog_name="aidlgraph")
    except KeyboardInterrupt:
        click.echo("interrupted; the library is unchanged", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # the last guard: one line, never a traceback
        if isinstance(exc, OSError) and is_disk_full(exc):  # the output (a redirected export) ran out of room
            click.secho(f"error: disk full while writing {exc.filename or 'the output'}; free space and re-run",
                        fg="red", err=True)
            sys.exit(1)
        if settings().debug:
            raise
        click.secho(f"error: unexpected {type(exc).__name__}: {exc} (set AIDLGRAPH_DEBUG=1 for details; please report it)",
                    fg="red", err=True)
        sys.exit(1)
