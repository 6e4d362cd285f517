"""Faults: kill -9 during ingest, then 10,000 malformed requests against `aidlgraph serve`.

    .venv/bin/python bench/faults.py                        # 20 kill trials on 3000 rows, 10,000 requests
    .venv/bin/python bench/faults.py --rows 2000 --trials 10 --requests 2000
    .venv/bin/python bench/faults.py --skip-api | --skip-kill

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
methods and content types, odd paths with ../ traversal, unknown ids, bad ints), from 4 client
threads on keep-alive connections through http.client (which sends paths as written). Prints the
count by status, the 5xx count (expected 0), connection errors and whether the server survived.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
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
        alive = server.poll() is None
        healthy = alive and wait_healthy(port, server, 30)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
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
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3000, help="rows of TutorialBank to ingest (default 3000)")
    ap.add_argument("--trials", type=int, default=20, help="kill trials at random moments (default 20)")
    ap.add_argument("--requests", type=int, default=10_000, help="malformed requests (default 10000)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--skip-kill", action="store_true", help="only the API run (on the mini fixture)")
    ap.add_argument("--skip-api", action="store_true", help="only the kill trials")
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
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
