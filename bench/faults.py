"""Faults: kill -9 during ingest, malformed and slow requests, a full disk, corrupted vectors, and
wide or hostile files.

    .venv/bin/python bench/faults.py                        # everything: 20 kill trials on 3000 rows, ...
    .venv/bin/python bench/faults.py --rows 2000 --trials 10 --requests 2000
    .venv/bin/python bench/faults.py --skip-kill --skip-api   # only the newer trials, on the mini fixture
    (--skip-kill --skip-api --skip-disk --skip-vectors --skip-files pick the trials; the full-disk
    trials mount a tmpfs and so need root: they say "skipped" without it)

Kill trials. A slice of TutorialBank (``../shared/datasets/tutorialbank``; synthetic rows when it is
absent) is cut into growing prefixes. A calibration run ingests the first prefix to completion
(its time T0); then each trial starts ``python -m aidlgraph ingest`` on the next, longer prefix
(new rows to embed every time) and SIGKILLs it after a random delay in [0.2 s, 1.3 T0]: while
Python starts, while the model loads, while it embeds, inside the write, or not at all when the
ingest finishes first. Three more trials kill at exact points (inside the transaction, between the
commit and the index write, halfway through writing the index). After every kill: no item committed
before may be missing (items lost), the database holds all of the killed ingest or none of it, the
user's next command (``stats``) works, and ``check`` reports the library consistent; a stale index
is rebuilt from the stored vectors (check says so in a note). Finally the whole slice is ingested
to completion: items must equal the slice's unique rows, and the re-run embeds only what never
committed (``embedded == new + updated``: unchanged items are not embedded again).

Malformed requests. ``aidlgraph serve`` on 127.0.0.1 (a free port) serving the library the trials
built; ``--requests`` requests (random query strings, bodies up to and over the cap, bad JSON, wrong
methods and content types, odd paths with ../ traversal, unknown ids, bad ints, bad dates, HEAD,
foreign Host headers), from 4 client threads on keep-alive connections through http.client (which
sends paths as written). Prints the count by status, the 5xx count (expected 0), connection errors
and whether the server survived; then 20 slow clients whose headers stop halfway (slowloris).

Vector corruption. A copy of that library with one random byte flipped in 50 stored item vectors,
the exponent of 10 more and of one topic vector (inside SQLite blobs: quick_check cannot see it) and
the index stamp removed (the next open rebuilds it, as after a crash): what ``check`` finds, whether
any search shows an absurd score, top-10 agreement of 20 related queries with before the damage,
and what ``check --repair`` restores.

Wide and hostile files. ``ingest`` of a 7.9 MB CSV with a 1,000,001-column header and 300 rows (the
issue's file), a 1,000-row CSV with one stray quote, a Markdown file of a million bullets, an
Excel "Unicode text" TSV (UTF-16 LE with a BOM) and a UTF-8 CSV with one Latin-1 line: outcome,
seconds and peak RSS; then the wide CSV uploaded to POST /ingest.

Full disk (root only). The mini library on a real 2 MB tmpfs: filled to 0 bytes, every write
command must fail in one line and change nothing, every read command must answer, ``serve`` must
start with /healthz "degraded"; then 40 KB left (SQLite cannot commit); then the database on a roomy
disk and only the index on the full one (the commit stands, the index is kept in memory).
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TSV = ROOT.parent / "shared/datasets/tutorialbank/resources-v2023-clean.tsv"
AIDLGRAPH = [sys.executable, "-m", "aidlgraph"]

# the CLI killed with SIGKILL at one exact point of an ingest (see that script)
KILL_AT = str(ROOT / "bench" / "kill_at.py")


# -- kill trials -----------------------------------------------------------------------------------
def write_slice(folder: Path, rows: int) -> list[str]:
    if TSV.exists():
        with TSV.open(encoding="utf-8") as fh:
            lines = [line for _, line in zip(range(rows + 1), fh)]
    else:
        topics = ["Neural Networks", "Parsing", "Word Embeddings", "Machine Translation", "Topic Models"]
        lines = ["title\turl\ttopic_name\tmedium\tyear\n"] + [
            f"Resource {n} on {topics[n % 5].lower()}\thttps://example.org/r/{n}\t{topics[n % 5]}\tTutorials\t2017\n"
            for n in range(rows)]
    return lines


def prefix_file(folder: Path, lines: list[str], rows: int) -> Path:
    """The first ``rows`` rows, always under the same file name: the name is the items' source
    label, so every prefix names the same items."""
    path = folder / f"prefix-{rows}" / "tutorialbank.tsv"
    if not path.exists():
        path.parent.mkdir()
        path.write_text("".join(lines[: rows + 1]), encoding="utf-8")
    return path


def db_state(lib: Path) -> dict:
    with sqlite3.connect(lib / "library.db") as conn:
        ids = {r[0] for r in conn.execute("SELECT id FROM items")}
        vectors = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        generation = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    try:
        stamp = json.loads((lib / "vectors.json").read_text()).get("generation")
    except (OSError, ValueError):
        stamp = None
    return {"ids": ids, "vectors": vectors, "generation": generation[0] if generation else "0", "stamp": stamp}


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*AIDLGRAPH, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def after_crash(lib: Path) -> tuple[bool, bool, list[str], list[str]]:
    """(next command worked, check consistent, check's notes, problems)."""
    stats = run_cli("--library", str(lib), "stats", "--json")
    check = run_cli("--library", str(lib), "check", "--json")
    try:
        report = json.loads(check.stdout)
    except ValueError:
        return stats.returncode == 0, False, [], [check.stderr.strip()[-300:]]
    return stats.returncode == 0, bool(report.get("ok")) and check.returncode == 0, report.get("notes", []), report.get("problems", [])


def unique_items(path: Path) -> int:
    from aidlgraph.corpus import load_path

    return len({item.id for batch in load_path(path) for item in batch.items})


def kill_trials(work: Path, rows: int, trials: int, seed: int) -> tuple[Path, list[str]]:
    rng = random.Random(seed)
    lines = write_slice(work, rows)
    rows = len(lines) - 1
    chunk = max(1, rows // (trials + 10))
    lib = work / "lib"
    if run_cli("--library", str(lib), "init", "--empty").returncode:
        raise SystemExit("could not create the library")
    first = prefix_file(work, lines, chunk)
    started = time.perf_counter()
    calib = run_cli("--library", str(lib), "ingest", str(first))
    t0 = time.perf_counter() - started
    if calib.returncode:
        raise SystemExit(f"calibration ingest failed: {calib.stderr[-500:]}")
    started = time.perf_counter()
    if run_cli("--library", str(lib), "ingest", str(prefix_file(work, lines, 6 * chunk))).returncode:
        raise SystemExit("calibration ingest failed")
    t1 = time.perf_counter() - started  # five chunks: the same start-up, five times the embedding
    rate = 4 * chunk / max(0.2, t1 - t0)
    startup = max(0.5, t0 - chunk / rate)
    print(f"slice: {rows} rows of {TSV.name if TSV.exists() else 'synthetic rows'}; calibration: ingests of "
          f"{chunk} and {5 * chunk} new rows took {t0:.1f} s and {t1:.1f} s: start-up ~{startup:.1f} s, then "
          f"~{rate:.0f} rows/s; each kill comes at random within 1.2x the ingest's expected time", flush=True)

    outcome = collections.Counter()
    lost_total, consistent, worked, rebuilt, bad = 0, 0, 0, 0, []
    # Growing prefixes: each trial has new rows (plus whatever earlier kills left uncommitted);
    # the exact-point trials take two more chunks, and the final run the rest.
    plan = [("random", chunk * (n + 7)) for n in range(trials)]
    plan += [("transaction", chunk * (trials + 7)), ("commit", chunk * (trials + 7)), ("index-write", chunk * (trials + 8))]
    for n, (how, prefix_rows) in enumerate(plan, 1):
        source = prefix_file(work, lines, prefix_rows)
        before = db_state(lib)
        if how == "random":
            pending = max(0, prefix_rows - len(before["ids"]))
            delay = rng.uniform(0.2, 1.2 * (startup + pending / rate))
            proc = subprocess.Popen([*AIDLGRAPH, "--library", str(lib), "ingest", str(source)], cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=delay)
                killed = False
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = True
        else:
            delay = float("nan")
            proc = subprocess.run([sys.executable, KILL_AT, how, "--library", str(lib), "ingest", str(source)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=900)
            killed = proc.returncode == -signal.SIGKILL
        after = db_state(lib)
        lost = len(before["ids"] - after["ids"])
        committed = after["generation"] != before["generation"]
        if not killed:
            where = "finished before the kill"
        elif not committed:
            where = "killed before the commit (rolled back)"
        elif after["stamp"] != after["generation"]:
            where = "killed after the commit, index stale"
        else:
            where = "killed after the index write"
        outcome[where] += 1
        lost_total += lost
        whole = after["vectors"] == len(after["ids"]) and (not committed or len(after["ids"]) >= len(before["ids"]))
        ok_next, ok_check, notes, problems = after_crash(lib)
        worked += ok_next
        consistent += ok_check and whole
        rebuilt += any("rebuilt it from" in note for note in notes)
        if not (ok_next and ok_check and whole) or lost:
            bad.append(f"trial {n} ({how}, {where}): next command {'ok' if ok_next else 'FAILED'}, "
                       f"check {'ok' if ok_check else problems}, lost {lost}")
        print(f"  trial {n:>2} {how:<11} delay {delay:5.1f}s  {where:<40} items {len(before['ids']):>5} -> "
              f"{len(after['ids']):>5}  lost {lost}  next command {'ok' if ok_next else 'FAILED'}  "
              f"check {'consistent' if ok_check else 'PROBLEMS'}"
              + ("  (index rebuilt from stored vectors)" if any("rebuilt it from" in note for note in notes) else ""),
              flush=True)

    full = prefix_file(work, lines, rows)
    committed_before = len(db_state(lib)["ids"])
    expected = unique_items(full)
    final = run_cli("--library", str(lib), "ingest", str(full))
    summary = final.stdout.strip().splitlines()[-1] if final.stdout.strip() else final.stderr.strip()[-300:]
    numbers: dict[str, int] = {}
    for value, key in re.findall(r"(\d+) (new|updated|unchanged|embedded)", summary):
        numbers.setdefault(key, int(value))  # the first "N new" is items; a later one is topics
    state = db_state(lib)
    ok_next, ok_check, _, problems = after_crash(lib)
    reembedded_ok = numbers.get("embedded") == numbers.get("new", -1) + numbers.get("updated", -1) \
        and numbers.get("new") == expected - committed_before
    rows_ok = final.returncode == 0 and len(state["ids"]) == expected == state["vectors"] and ok_check and reembedded_ok
    kills = sum(v for k, v in outcome.items() if k != "finished before the kill")
    report = [
        f"kill trials:                {len(plan)} ({trials} at random moments, 3 at exact points): {kills} killed; "
        + ", ".join(f"{v} {k}" for k, v in sorted(outcome.items())),
        f"consistent after crash:     {consistent}/{len(plan)} (next command worked {worked}/{len(plan)}; "
        f"stale or damaged index rebuilt from stored vectors, not re-embedded, in {rebuilt})",
        f"items lost:                 {lost_total} (expected 0)",
        f"rows re-ingested correctly: {'yes' if rows_ok else 'NO'}: {len(state['ids'])} items == {expected} unique "
        f"rows of {rows}; the re-run embedded {numbers.get('embedded')} = {numbers.get('new')} never committed "
        f"+ {numbers.get('updated')} updated ({numbers.get('unchanged')} unchanged, not embedded); "
        f"check {'consistent' if ok_check else problems}",
    ]
    report += [f"  problem: {line}" for line in bad]
    return lib, report


# -- malformed requests ----------------------------------------------------------------------------
def malformed_requests(n: int, seed: int, item_id: str, secret: Path) -> list[tuple[str, str, dict, bytes | None]]:
    """``n`` (method, url, headers, body) requests, each wrong in a way a client can be wrong.
    URLs are ASCII as sent on the wire (junk is percent-encoded; ../ traversal is kept raw)."""
    rng = random.Random(seed)
    alphabet = "aé日🙂%&=?#/\\\"'<>{}[] +.;\x01\x7f"

    def junk(k: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, k)))

    def q(text: str, safe: str = "") -> str:
        return urllib.parse.quote(text, safe=safe)

    def pick(*options):
        return rng.choice(options)

    makers = [
        lambda: ("GET", f"/path?q={q(junk(60))}&depth={pick('-1', 'x', '1e9', '', '99999999999999999999')}", {}, None),
        lambda: ("GET", f"/path?q=cuda&per_topic={pick('0', '21', 'nan', '-5', '3.5')}&known={q(junk(20))}", {}, None),
        lambda: ("GET", f"/path?{q(junk(40), safe='=&?/;+')}", {}, None),
        lambda: ("GET", "/path?q=" + "x" * pick(0, 2001, 5000), {}, None),
        lambda: ("GET", f"/related?q={q(junk(80))}&k={pick('0', '501', '-1', 'ten', '1' * 30, '')}", {}, None),
        lambda: ("GET", f"/related?q=cuda&kind={q(junk(10))}&min_score={pick('x', 'nan', 'inf', '-inf', '1e999')}", {}, None),
        lambda: ("GET", f"/related?q=cuda&before={q(junk(15))}&since={q(junk(15))}&exclude_source={q(junk(5))}", {}, None),
        lambda: ("POST", "/related", {"content-type": "application/json"}, pick(
            b"{", b"[]", b"null", b'{"text": 5}', b'{"text": "cuda", "k": "x"}', b'{"text": "cuda", "k": true}',
            b'{"text": "cuda", "kind": [1]}', b'{"text": "cuda", "min_score": "high"}', b'{"text": ""}',
            b'{"text": "\\ud800"}', b"\xff\xfe{", b"\x00\x00", ('{"text": "' + "[" * 100_000 + '"}').encode(),
            b'{"text": ' + b"[" * 100_000 + b"}")),
        lambda: ("POST", "/related", {"content-type": pick("text/plain", "text/markdown", "application/xml", "",
                                                           "multipart/form-data; boundary=x",
                                                           "application/json; charset=latin-1")},
                 junk(300).encode("utf-8")),
        lambda: ("POST", "/ask", {"content-type": "application/json"}, pick(
            b'{"question": null}', b'{"q": "x"}', b'{"question": "' + b"x" * 70_000 + b'"}', b"not json",
            b'{"question": ["a"]}', b'"just a string"')),
        lambda: ("GET", f"/ask?q={q(junk(100))}", {}, None),
        lambda: ("GET", "/ask", {}, None),
        lambda: (pick("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"),
                 pick("/path", "/related", "/ask", "/topics", f"/items/{item_id}", "/healthz", "/ingest"), {}, b"x"),
        lambda: ("POST", pick("/path", "/topics", "/healthz", f"/items/{item_id}"), {"content-type": "application/json"}, b"{}"),
        lambda: ("POST", "/ingest?filename=" + q(pick("../../x.yaml", str(secret), "a.exe", "")),
                 {"authorization": "Bearer wrong", "content-type": "text/plain"}, b"- title: x\n"),
        lambda: ("GET", pick("/../../etc/passwd", "/items/..%2F..%2Fetc%2Fpasswd", f"/items/{q(str(secret))}",
                             "/items/" + q("../" * 20 + "etc/passwd"), "/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd",
                             "/items/%00", "/items/" + "a" * 5000, "/static/../library.db", "/library.db",
                             "/vectors.faiss", f"/items/{item_id}%00.json", "/docs/../../etc/passwd",
                             "/items/%ED%A0%80", f"/items/{item_id}/../../../etc/passwd"), {}, None),
        lambda: ("GET", f"/items/{pick('000000000000', 'zzzzzzzzzzzz', item_id.upper(), q(item_id + ' '), q(junk(30)) or 'x')}",
                 {}, None),
        lambda: ("GET", "/" + q(junk(30)), {}, None),
        lambda: ("GET", "/topics?" + q(junk(50), safe="=&"), {"accept": "text/html", "x-forwarded-for": "../../etc"}, None),
        lambda: (pick("GET", "HEAD"), pick("/healthz", "/topics", "/path?q=cuda", f"/items/{item_id}"),
                 {"host": pick("evil.example", "127.0.0.1.nip.io", "attacker.test:8765", "", "localhost@evil.example")},
                 None),
        lambda: ("HEAD", pick("/healthz", "/related?q=cuda", f"/items/{item_id}", "/ask?q=why", "/nowhere"), {}, None),
        lambda: ("GET", f"/related?q=cuda&before={pick('abc', '2017-13-45', '0000-00-00', '9999-99', q(junk(8)))}"
                        f"&since={pick('zzz', '2017-02-30', '', '2017')}", {}, None),
    ]
    rare = [  # bodies near and over the caps: a few percent of the run
        lambda: ("POST", "/related", {"content-type": "text/plain"}, b"cuda " * pick(39_000, 40_001, 42_000)),
        lambda: ("POST", "/related", {"content-type": "text/plain"}, b"x" * pick(999_999, 1_000_001, 1_200_000)),
    ]
    return [(rng.choice(rare) if rng.random() < 0.03 else rng.choice(makers))() for _ in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(conn: http.client.HTTPConnection, method: str, url: str, headers: dict, body: bytes | None) -> int:
    conn.request(method, url, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.getheader("connection", "").lower() == "close":
        conn.close()
    return response.status


def stop(server: subprocess.Popen) -> None:
    """Stop a server started in its own session: SIGINT to it and its workers, SIGKILL after 20 s."""
    os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_healthy(port: int, server: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if request(conn, "GET", "/healthz", {}, None) == 200:
                return True
        except OSError:
            time.sleep(0.5)
    return False


def slow_clients(port: int, count: int = 20) -> str:
    """``count`` connections that send part of a request's headers and stop (slowloris): how many
    the server answers 408 and closes, after how long, and whether it serves others meanwhile."""
    started = time.perf_counter()
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        socks.append(sock)
    try:
        meanwhile = request(http.client.HTTPConnection("127.0.0.1", port, timeout=30), "GET", "/topics", {}, None)
    except (OSError, http.client.HTTPException):
        meanwhile = 0
    closed, after = 0, []
    for sock in socks:
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            pass
        after.append(time.perf_counter() - started)
        closed += data.startswith(b"HTTP/1.1 408")
        sock.close()
    return (f"{closed}/{count} requests whose headers stopped arriving answered 408 and closed after "
            f"{min(after):.1f}-{max(after):.1f} s; a normal request meanwhile: {meanwhile or 'FAILED'}")


def malformed_run(lib: Path, work: Path, total: int, clients: int, seed: int) -> list[str]:
    helped = run_cli("serve", "--help", timeout=120)
    if helped.returncode:
        return [f"malformed requests:         skipped: `aidlgraph serve --help` failed: {helped.stderr.strip()[-200:]}"]
    with sqlite3.connect(lib / "library.db") as conn:
        item_id = conn.execute("SELECT id FROM items LIMIT 1").fetchone()[0]
    secret = work / "secret.yaml"
    secret.write_text("- title: TOP SECRET\n")
    requests = malformed_requests(total, seed, item_id, secret)
    port = free_port()
    log_path = work / "serve.log"
    env = {k: v for k, v in os.environ.items() if k not in ("AIDLGRAPH_TOKEN", "AIDLGRAPH_INGEST_DIR")}
    with log_path.open("w") as log:
        server = subprocess.Popen([*AIDLGRAPH, "--library", str(lib), "serve", "--port", str(port), "--no-access-log"],
                                  cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        if not wait_healthy(port, server, 180):
            return [f"malformed requests:         the server did not start; see {log_path}"]
        statuses: collections.Counter = collections.Counter()
        errors: collections.Counter = collections.Counter()
        lock = threading.Lock()
        queue = list(enumerate(requests))
        started = time.perf_counter()

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while True:
                with lock:
                    if not queue:
                        break
                    _, (method, url, headers, body) = queue.pop()
                try:
                    status = request(conn, method, url, headers, body)
                    with lock:
                        statuses[status] += 1
                except (OSError, http.client.HTTPException) as exc:
                    # A server that answers 413 before reading a 1 MB body may close the connection
                    # while the client is still sending: counted, not a crash.
                    with lock:
                        errors[type(exc).__name__] += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.close()

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        slow = slow_clients(port)
        alive = server.poll() is None
        healthy = alive and wait_healthy(port, server, 30)
    finally:
        stop(server)
    log_text = log_path.read_text(errors="replace")
    internal = log_text.count("internal error on")
    fives = sum(v for k, v in statuses.items() if k >= 500)
    crashes = (0 if alive else 1) + log_text.count("Traceback") - internal
    return [
        f"malformed requests:         {total} in {seconds:.0f} s from {clients} clients: "
        + ", ".join(f"{k} x{v}" for k, v in sorted(statuses.items())),
        f"5xx:                        {fives} (expected 0); internal errors logged: {internal}",
        f"connection errors:          {sum(errors.values())}" + (f" ({dict(errors)})" if errors else "")
        + "  (closed early by the server after refusing an oversize body)" * bool(errors),
        f"crashes:                    {max(crashes, 0)}; server alive afterwards: {'yes' if alive else 'NO'}, "
        f"/healthz {'200' if healthy else 'FAILED'}",
        f"slow clients:               {slow}",
    ]


# -- a full disk -----------------------------------------------------------------------------------
NEW_ITEM = ("- title: Overlapping kernels and copies with CUDA streams\n  topics: [cuda basics]\n"
            "  text: Streams let a GPU copy the next batch while it computes on this one.\n")


class Tmpfs:
    """A real tmpfs of ``size`` mounted at ``root`` (needs root), filled on demand."""

    def __init__(self, root: Path, size: str):
        self.root, self.filler = root, root / ".filler"
        root.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(root)],
                              capture_output=True, text=True)
        self.error = done.stderr.strip() if done.returncode else ""

    def fill(self, leave: int = 0) -> None:
        with open(self.filler, "ab", buffering=0) as fh:
            for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
                try:
                    while fh.write(b"\0" * chunk):
                        pass
                except OSError:
                    pass
        if leave:
            os.truncate(self.filler, max(0, self.filler.stat().st_size - leave))

    def free_all(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.root)], capture_output=True)


def item_ids(lib: Path) -> set[str]:
    """The library's item ids, read without writing anything (a full disk cannot take a -shm file)."""
    with sqlite3.connect(f"file:{lib / 'library.db'}?mode=ro&immutable=1", uri=True) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM items")}


def one_line(proc: subprocess.CompletedProcess, *words: str) -> bool:
    """Exit 1 with exactly one line on stderr starting with "error:" and holding ``words``."""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    return (proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr
            and all(w in errors[0] for w in words))


def full_disk_trials(work: Path) -> list[str]:
    """The mini library on a filled 2 MB tmpfs: writes, reads and the server; then the database on a
    roomy disk and only the index on the full one."""
    disk = Tmpfs(work / "small-disk", "2m")
    if disk.error:
        return [f"full disk:                  skipped: cannot mount a tmpfs here ({disk.error[:80]}); "
                "tests/test_disk_full.py injects ENOSPC instead"]
    try:
        source = work / "mini-lib"
        run_cli("--library", str(source), "init", "--empty")
        run_cli("--library", str(source), "ingest", str(ROOT / "tests/fixtures/mini"))
        new = work / "new.yaml"
        new.write_text(NEW_ITEM)
        lines = full_disk_reads_and_writes(disk, source, new)
        lines += nearly_full_disk(disk, source, new)
        lines += index_only_full(disk, source, new, work)
        return lines
    finally:
        disk.unmount()


def full_disk_reads_and_writes(disk: Tmpfs, source: Path, new: Path) -> list[str]:
    lib = disk.root / "lib"
    shutil.copytree(source, lib)
    (lib / "vectors.json").unlink()  # a stale index: every command wants to rebuild and save it
    before = item_ids(lib)
    disk.fill()
    writes = [run_cli("--library", str(lib), *args) for args in
              (["ingest", str(new)], ["check", "--repair"], ["graph", "accept", "cuda basics", "semantic segmentation"])]
    refused = sum(one_line(p, "disk", "full", "nothing was changed") for p in writes)
    reads = [run_cli("--library", str(lib), *args) for args in
             (["stats"], ["path", "cuda"], ["related", "cuda memory transfers"], ["ask", "where can I learn CUDA?"],
              ["check"])]
    answered = sum(p.returncode == 0 and "Traceback" not in p.stderr for p in reads)
    served = serve_on(lib)
    unchanged = item_ids(lib) == before
    disk.free_all()
    again = run_cli("--library", str(lib), "ingest", str(new)).returncode == 0 and len(item_ids(lib)) == len(before) + 1
    shutil.rmtree(lib)
    return [f"full disk (2 MB tmpfs, 0 bytes left): writes refused in one line {refused}/{len(writes)} (ingest, "
            f"check --repair, graph accept), library unchanged: {'yes' if unchanged else 'NO'}; reads answered "
            f"{answered}/{len(reads)} (stats, path, related, ask, check); after freeing space ingest works: "
            f"{'yes' if again else 'NO'}",
            f"serve on the full disk:     {served}"]


def serve_on(lib: Path) -> str:
    """Start `aidlgraph serve` on ``lib``; what /healthz, a read and POST /ingest answer."""
    port, token = free_port(), "faults-bench-token-0123456789"
    env = {**os.environ, "AIDLGRAPH_TOKEN": token}
    env.pop("AIDLGRAPH_INGEST_DIR", None)
    server = subprocess.Popen([*AIDLGRAPH, "--library", str(lib), "serve", "--port", str(port), "--no-access-log"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True, env=env)
    try:
        if not wait_healthy(port, server, 180):
            return f"did NOT start: {(server.stderr.read() if server.poll() is not None else '')[-300:]}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        health = json.loads(response.read())
        conn.request("GET", "/related?q=cuda+memory+transfers")
        related = conn.getresponse()
        related.read()
        conn.request("POST", "/ingest?filename=new.yaml", body=NEW_ITEM.encode(),
                     headers={"authorization": f"Bearer {token}", "content-type": "text/plain"})
        ingest = conn.getresponse()
        error = json.loads(ingest.read()).get("error", "")
        return (f"started; /healthz {response.status} {health['status']!r} ({health.get('reason', '')[:70]}...); "
                f"GET /related {related.status}; POST /ingest {ingest.status} ({error[:40]}...)")
    finally:
        stop(server)


def nearly_full_disk(disk: Tmpfs, source: Path, new: Path) -> list[str]:
    lib = disk.root / "lib"
    shutil.copytree(source, lib)
    before = item_ids(lib)
    disk.fill(leave=40 * 1024)  # room for SQLite's shared memory, not for the ingest's log
    ingest = run_cli("--library", str(lib), "ingest", str(new))
    disk.free_all()
    unchanged = item_ids(lib) == before
    shutil.rmtree(lib)
    said = [line for line in ingest.stderr.splitlines() if line.startswith("error:")]
    return [f"nearly full disk (40 KB):   ingest refused in one line: {'yes' if one_line(ingest, 'nothing was changed') else 'NO'}"
            f", nothing changed: {'yes' if unchanged else 'NO'} ({said[0][:70] if said else ingest.stderr[-100:]}...)"]


def index_only_full(disk: Tmpfs, source: Path, new: Path, work: Path) -> list[str]:
    lib, roomy = disk.root / "lib", work / "roomy"
    shutil.copytree(source, lib)
    roomy.mkdir(exist_ok=True)
    shutil.move(lib / "library.db", roomy / "library.db")
    (lib / "library.db").symlink_to(roomy / "library.db")  # SQLite's -wal and -shm go beside the target
    disk.fill()
    ingest = run_cli("--library", str(lib), "ingest", str(new))
    found = run_cli("--library", str(lib), "related", "overlapping kernels and copies with streams", "-k", "1", "--json")
    try:
        top = json.loads(found.stdout)["results"][0]["title"]
    except (ValueError, LookupError):
        top = ""
    disk.free_all()
    check = run_cli("--library", str(lib), "check", "--json")
    consistent = check.returncode == 0 and json.loads(check.stdout).get("ok")
    shutil.rmtree(lib)
    return [f"index unwritable after commit: {'items saved, said in one line' if one_line(ingest, 'items saved') else 'NOT as expected'}"
            f"; the next related finds the new item (index from memory): {'yes' if top.startswith('Overlapping') else 'NO'}"
            f"; check after freeing space: {'consistent' if consistent else 'PROBLEMS'}"]


# -- silent corruption of stored vectors ------------------------------------------------------------
def corrupt(conn: sqlite3.Connection, table: str, key: str, value, rng: random.Random, exponent: bool) -> None:
    """Damage one stored vector: its first float's exponent byte (the issue's case), or one random
    byte at a random place XORed with a random value (what a bad sector might do)."""
    blob = bytearray(conn.execute(f"SELECT vector FROM {table} WHERE {key} = ?", [value]).fetchone()[0])
    if exponent:
        blob[3] = 0x65  # 7.5e22-ish
    else:
        blob[rng.randrange(len(blob))] ^= rng.randrange(1, 256)
    conn.execute(f"UPDATE {table} SET vector = ? WHERE {key} = ?", [bytes(blob), value])


def vector_corruption_trial(source: Path, work: Path, seed: int) -> list[str]:
    """Flip bytes inside stored item and topic vectors (behind SQLite's back), rebuild the index on
    the next open as after a crash, and see what reaches a search, what check finds, what repair fixes."""
    import numpy as np

    from aidlgraph.index import sound_rows
    from aidlgraph.library import Library
    from aidlgraph.query.check import repair, verify
    from aidlgraph.query.related import related

    rng = random.Random(seed)
    lib_path = work / "corrupt-lib"
    shutil.copytree(source, lib_path, ignore=shutil.ignore_patterns("*-wal", "*-shm", ".write.lock"))
    with Library.open(lib_path) as lib:
        rows = lib.store.items()
        queries = [r["title"] for r in rng.sample(rows, min(20, len(rows)))]
        before = {q: [r["id"] for r in related(lib, q, k=10)["results"]] for q in queries}
        topics = [t["id"] for t in lib.store.topics()]
        lib.topic_vectors()
    nums = rng.sample([r["num"] for r in rows], min(60, len(rows)))
    flips, exponents = min(50, len(nums)), max(0, len(nums) - 50)
    with Library.open(lib_path) as lib:
        original = dict(zip(*lib.store.vectors(nums, dim=lib.dim)))
    with sqlite3.connect(lib_path / "library.db") as conn:
        for n, num in enumerate(nums):
            corrupt(conn, "vectors", "num", num, rng, exponent=n >= flips)
        damaged_topic = rng.choice(topics)
        corrupt(conn, "topic_vectors", "id", damaged_topic, rng, exponent=True)
        raw = {r[0]: np.frombuffer(r[1], dtype=np.float32) for r in
               conn.execute(f"SELECT num, vector FROM vectors WHERE num IN ({','.join('?' * len(nums))})", nums)}
    (lib_path / "vectors.json").unlink()
    unsound = [num for num in nums if not sound_rows(raw[num][None, :])[0]]
    harmless = [float(raw[num] @ original[num]) for num in nums if num not in unsound]  # cosine with the original
    with Library.open(lib_path) as lib:
        report = verify(lib)
        absurd, agree = 0, 0
        for q in queries:
            results = related(lib, q, k=10)["results"]
            absurd += sum(1 for r in results if not (np.isfinite(r["score"]) and r["score"] < 10))
            agree += len(set(before[q]) & {r["id"] for r in results})
        done = repair(lib)
        after = {q: [r["id"] for r in related(lib, q, k=10)["results"]] for q in queries}
        healed = verify(lib)["ok"]
    restored = sum(len(set(before[q]) & set(after[q])) for q in queries)
    total = sum(len(v) for v in before.values())
    found_items, found_topics = len(report["vectors_damaged"]), report["topic_vectors_damaged"]
    return [
        f"vector corruption:          one random byte flipped in {flips} stored vectors, the exponent of {exponents} "
        f"more and of 1 topic vector: {len(unsound)} made unsound; the other {len(harmless)} stay unit vectors within cosine "
        f"{min(harmless, default=1):.4f} of the original (a low mantissa bit or a sign: harmless, not detectable)",
        f"  check found:              {found_items}/{len(unsound)} damaged item vectors, "
        f"{len(found_topics)}/1 topic vector ({'the right one' if found_topics == [damaged_topic] else found_topics})",
        f"  searches meanwhile:       {absurd} absurd scores in {len(queries)} related queries (the issue: "
        f"7.5e22); top-10 agreement with before the damage {agree / total:.0%} (damaged items left out)",
        f"  after check --repair:     {'; '.join(line.split(':')[0] for line in done[:4])}; top-10 agreement "
        f"{restored / total:.0%}; check {'consistent' if healed else 'PROBLEMS'}",
    ]


# -- wide and hostile files -------------------------------------------------------------------------
# `python -m aidlgraph ARGS` that reports its own peak RSS on exit (atexit runs after sys.exit). VmHWM,
# not getrusage's ru_maxrss: Linux carries ru_maxrss over exec from the forked parent (this bench).
PEAK_WRAPPER = ("import atexit, runpy, sys; atexit.register(lambda: print('PEAK_RSS_KB', next(line.split()[1] "
                "for line in open('/proc/self/status') if line.startswith('VmHWM')), file=sys.stderr)); "
                "runpy.run_module('aidlgraph', run_name='__main__')")


def timed_cli(*args: str) -> tuple[subprocess.CompletedProcess, float, float]:
    """(the process, seconds, its peak RSS in MB)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    seconds = time.perf_counter() - started
    peak = [int(line.split()[1]) / 1024 for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KB")]
    proc.stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("PEAK_RSS_KB"))
    return proc, seconds, peak[0] if peak else float("nan")


def upload(lib: Path, path: Path) -> str:
    """POST ``path`` to /ingest of a server on ``lib``: status, seconds, the server's peak RSS."""
    port, token = free_port(), "faults-bench-token-0123456789"
    env = {**os.environ, "AIDLGRAPH_TOKEN": token}
    server = subprocess.Popen([*AIDLGRAPH, "--library", str(lib), "serve", "--port", str(port), "--no-access-log"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              env=env)
    try:
        if not wait_healthy(port, server, 180):
            return "the server did not start"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        conn.request("POST", f"/ingest?filename={path.name}", body=path.read_bytes(),
                     headers={"authorization": f"Bearer {token}", "content-type": "text/plain"})
        response = conn.getresponse()
        error = json.loads(response.read()).get("error", "")
        seconds = time.perf_counter() - started
        status = Path(f"/proc/{server.pid}/status")
        peak = next((line.split()[1] for line in status.read_text().splitlines() if line.startswith("VmHWM")), "?") \
            if status.exists() else "?"
        peak_mb = f"{int(peak) / 1024:.0f} MB" if peak.isdigit() else "?"
        return f"POST /ingest {response.status} in {seconds:.1f} s (server peak RSS {peak_mb}): {error[:90]}"
    finally:
        stop(server)


def wide_file_trials(lib: Path, work: Path) -> list[str]:
    files = work / "hostile"
    files.mkdir()
    wide = files / "wide.csv"
    wide.write_text(",".join(["title"] + [f"c{n}" for n in range(1_000_000)]) + "\n"
                    + "".join(f"row {n},1\n" for n in range(300)))
    rows = ["title,url,topic"] + [f"Item {n} on kernels,https://example.org/{n},CUDA" for n in range(1000)]
    rows[12] = '"Quoted start of a title, oops,https://example.org/q,CUDA'
    (files / "stray.csv").write_text("\n".join(rows) + "\n")
    (files / "bullets.md").write_text("# CUDA\n" + "- [a link](https://example.org)\n" * 1_000_000)
    sheet = "title\ttopic\n" + "".join(f"Résumé numéro {n}\tréseaux\n" for n in range(1000))
    (files / "excel.tsv").write_bytes(b"\xff\xfe" + sheet.replace("\n", "\r\n").encode("utf-16-le"))
    mixed = "title,text\n" + "".join(f"Café {n},ok\n" for n in range(999))
    (files / "mixed.csv").write_bytes(mixed.encode("utf-8") + "Zürich meetup,ok\n".encode("latin-1"))
    out = []
    for name, expect in (("wide.csv", "refused"), ("stray.csv", "refused"), ("bullets.md", "refused"),
                         ("excel.tsv", "ingested"), ("mixed.csv", "ingested")):
        path = files / name
        proc, seconds, peak = timed_cli("--library", str(lib), "ingest", str(path))
        said = (proc.stderr.strip().splitlines() or [""])[-1] if proc.returncode else proc.stdout.strip()
        warned = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
        ok = one_line(proc) if expect == "refused" else proc.returncode == 0
        out.append(f"  {name:<11} {path.stat().st_size / 2**20:5.1f} MB: {expect if ok else 'NOT ' + expect} in "
                   f"{seconds:.1f} s, peak RSS {peak:.0f} MB: {said[:110]}"
                   + (f" [{warned[0][:90]}]" if warned else ""))
    out.append(f"  wide.csv over HTTP: {upload(lib, files / 'wide.csv')}")
    return ["wide and hostile files (ingest into the trials' library; peak RSS of that ingest process):", *out]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3000, help="rows of TutorialBank to ingest (default 3000)")
    ap.add_argument("--trials", type=int, default=20, help="kill trials at random moments (default 20)")
    ap.add_argument("--requests", type=int, default=10_000, help="malformed requests (default 10000)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--skip-kill", action="store_true", help="no kill trials (the other trials use the mini fixture)")
    ap.add_argument("--skip-api", action="store_true", help="no malformed requests")
    ap.add_argument("--skip-disk", action="store_true", help="no full-disk trials")
    ap.add_argument("--skip-vectors", action="store_true", help="no vector-corruption trial")
    ap.add_argument("--skip-files", action="store_true", help="no wide/hostile file trials")
    opts = ap.parse_args()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="aidlgraph-faults-") as tmp:
        work = Path(tmp)
        if opts.skip_kill:
            lib = work / "lib"
            run_cli("--library", str(lib), "init", "--empty")
            run_cli("--library", str(lib), "ingest", str(ROOT / "tests/fixtures/mini"))
        else:
            lib, lines = kill_trials(work, opts.rows, opts.trials, opts.seed)
        if not opts.skip_api:
            lines += malformed_run(lib, work, opts.requests, opts.clients, opts.seed)
        if not opts.skip_vectors:
            lines += vector_corruption_trial(lib, work, opts.seed)
        if not opts.skip_files:
            lines += wide_file_trials(lib, work)
        if not opts.skip_disk:
            lines += full_disk_trials(work)
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
