"""Load test of `aidlgraph serve`: throughput and latency of path/related/ask over loopback HTTP.

    python bench/serve_load.py --matrix                    # response cache off: 2 and 8 clients x 1 and 2 workers
    python bench/serve_load.py                             # builds a library, 3000 requests, 8 clients
    python bench/serve_load.py --library DIR --requests 5000 --clients 16 --workers 2
    python bench/serve_load.py --with-ingest               # also: reads while another process ingests

Builds a library from the shipped corpus (``data/``), or from tests/fixtures/mini when ``data/`` is
absent, unless ``--library`` names one; starts ``aidlgraph serve`` as a subprocess on 127.0.0.1 on a
free port; waits for /healthz; sends each distinct query a few times (so the query-embedding cache is
warm, as it is for a bot answering recurring questions); then runs a bounded load: a fixed number of
requests (and a time cap) from N clients, each a process of its own on its own keep-alive
connection, sending its next request as soon as the last one is answered, a mix of /path,
/related and /ask over a handful of queries. Prints requests/s, p50/p95/p99 latency and the error
count, then stops the server. ``--matrix`` prints the table the scaling issue asks for, with its
aim at 8 clients (2 cores): p50 <= 15 ms and >= 300 requests/s.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "fixtures" / "mini"
AIDLGRAPH = [sys.executable, "-c", "from aidlgraph.cli import main; main()"]
RELATED = ["convolutional networks for image classification", "pinned memory and host to device transfers",
           "Google acquires Kaggle", "training deep networks on GPUs", "pixel-wise labelling of images"]
ASK = ["How do I start with image segmentation?", "where can I learn CUDA?", "any good books on deep learning?",
       "what should I read before convolutional networks?", "What will the weather be tomorrow?"]


def build_library(path: Path) -> str:
    env = {**os.environ, "AIDLGRAPH_HOME": str(path)}
    data = Path(os.environ.get("AIDLGRAPH_DATA") or ROOT / "data")
    if data.is_dir():
        subprocess.run(AIDLGRAPH + ["--library", str(path), "init"], check=True, env=env)
        return f"shipped corpus ({data})"
    subprocess.run(AIDLGRAPH + ["--library", str(path), "init", "--empty"], check=True, env=env)
    subprocess.run(AIDLGRAPH + ["--library", str(path), "ingest", str(MINI)], check=True, env=env)
    return f"mini fixture ({MINI}; data/ is absent)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(conn: http.client.HTTPConnection, url: str) -> tuple[int, bytes]:
    conn.request("GET", url)
    response = conn.getresponse()
    return response.status, response.read()


def wait_healthy(port: int, server: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            status, body = get(conn, "/healthz")
            conn.close()
            if status == 200:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /healthz within {timeout:.0f} s")


def make_urls(port: int) -> list[tuple[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    _, body = get(conn, "/topics")
    conn.close()
    topics = [t["name"] for t in json.loads(body)]
    leaves = sorted(topics, key=len)[:5] or ["cuda"]
    q = urllib.parse.quote
    urls = [("path", f"/path?q={q(t)}") for t in leaves]
    urls += [("related", f"/related?q={q(t)}&k=10") for t in RELATED]
    urls += [("ask", f"/ask?q={q(t)}") for t in ASK]
    return urls


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _client(port: int, urls: list[tuple[str, str]], n: int, quota: int, cap: float, go, out) -> None:
    """One client process: ``quota`` requests on one keep-alive connection, after ``go`` is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    records = []
    go.wait()
    deadline = time.monotonic() + cap
    for i in range(quota):
        if time.monotonic() > deadline:
            break
        kind, url = urls[(i * 7 + n) % len(urls)]
        start = time.perf_counter()
        try:
            status, _ = get(conn, url)
            ok = status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        records.append((kind, start, time.perf_counter() - start, ok))
    conn.close()
    out.send(records)
    out.close()


def run_load(port: int, urls: list[tuple[str, str]], total: int, clients: int, cap: float) -> dict:
    """``total`` requests from ``clients`` concurrent clients, each a process of its own (threads
    would queue on the bench's own GIL and add that wait to every latency), started together."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    pipes, procs = [], []
    for n in range(clients):
        receive, send = ctx.Pipe(duplex=False)
        quota = total // clients + (1 if n < total % clients else 0)
        proc = ctx.Process(target=_client, args=(port, urls, n, quota, cap, go, send), daemon=True)
        proc.start()
        pipes.append(receive)
        procs.append(proc)
    time.sleep(0.2)  # every client connected and waiting
    started = time.perf_counter()
    go.set()
    records: list[tuple[str, float, float, bool]] = []  # (endpoint, start, seconds, ok)
    for receive in pipes:
        records.extend(receive.recv())
    seconds = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return {"records": records, "seconds": seconds, "started": started}


def summarise(records: list, seconds: float, label: str) -> dict:
    lat = [r[2] * 1000 for r in records]
    errors = sum(1 for r in records if not r[3])
    out = {"label": label, "requests": len(records), "seconds": round(seconds, 2),
           "rps": round(len(records) / seconds, 1) if seconds else 0.0,
           "p50_ms": round(percentile(lat, 50), 2), "p95_ms": round(percentile(lat, 95), 2),
           "p99_ms": round(percentile(lat, 99), 2), "max_ms": round(max(lat), 2) if lat else float("nan"),
           "errors": errors, "by_endpoint": {}}
    for kind in ("path", "related", "ask"):
        k = [r[2] * 1000 for r in records if r[0] == kind]
        if k:
            out["by_endpoint"][kind] = {"n": len(k), "p50_ms": round(statistics.median(k), 2),
                                        "p95_ms": round(percentile(k, 95), 2)}
    return out


def show(s: dict) -> None:
    print(f"{s['label']}: {s['requests']} requests in {s['seconds']} s = {s['rps']} requests/s; "
          f"latency p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms; "
          f"errors {s['errors']}")
    for kind, v in s["by_endpoint"].items():
        print(f"  {kind:<8} n={v['n']:<5} p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms")


def ingest_file(directory: Path, n: int = 300) -> Path:
    path = directory / "bench-ingest.yaml"
    lines = ["source: Bench ingest", "items:"]
    for i in range(n):
        lines += [f"  - title: Bench article {i} on GPU kernels and convolutional networks",
                  f"    text: Article {i} explains tiling, shared memory and convolution layers, variant {i * 7919 % 1000}."]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def running_server(library: Path, workers: int, cache_off: bool, log_path: Path, access_log: bool = False):
    """``aidlgraph serve`` on a free loopback port, healthy and warmed up: yields (port, /healthz)."""
    port = free_port()
    log = open(log_path, "w+")
    command = AIDLGRAPH + ["--library", str(library), "serve", "--host", "127.0.0.1", "--port", str(port),
                           "--workers", str(workers)] + ([] if access_log else ["--no-access-log"])
    env = {**os.environ, **({"AIDLGRAPH_RESPONSE_CACHE": "0"} if cache_off else {})}
    t = time.perf_counter()
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        health = wait_healthy(port, server, timeout=180)
        print(f"server up in {time.perf_counter() - t:.1f} s: {health['items']} items, model {health['model']}, "
              f"{workers} worker(s), response cache {'off' if cache_off else 'on'}, port {port}", file=sys.stderr)
        yield port, health, server
    finally:
        with_timeout_stop(server)
        log.seek(0)
        tail = log.read().splitlines()[-15:]
        log.close()
        if server.returncode not in (0, -signal.SIGINT, -signal.SIGTERM):
            print("server log tail:\n" + "\n".join(tail), file=sys.stderr)
        if any("Traceback" in line or "internal error" in line for line in tail):
            print("server log shows errors:\n" + "\n".join(tail), file=sys.stderr)


def warm_up(port: int, urls: list[tuple[str, str]], workers: int) -> None:
    """Every distinct query a few times (each worker embeds and caches its queries once)."""
    warm = run_load(port, urls, total=len(urls) * workers * 3, clients=workers, cap=120)
    assert all(r[3] for r in warm["records"]), "a warm-up request failed; see the server log"


def matrix(library: Path, tmp: Path, requests: int, cap: float, rounds: int = 3) -> list[dict]:
    """The response cache off; 2 and 8 clients against 1 and 2 workers, each ``rounds`` times with
    new connections (which worker accepts a keep-alive connection is the kernel's choice, so one
    round can put most clients on one worker); the round of median throughput is shown, with the
    range over rounds. Prints the table."""
    rows = []
    for workers in (1, 2):
        with running_server(library, workers, True, tmp / f"server-{workers}.log") as (port, _, _):
            urls = make_urls(port)
            warm_up(port, urls, workers)
            for clients in (2, 8):
                runs = []
                for _ in range(rounds):
                    result = run_load(port, urls, requests, clients, cap)
                    runs.append(summarise(result["records"], result["seconds"], f"{workers} worker(s), {clients} clients"))
                runs.sort(key=lambda r: r["rps"])
                rows.append({"workers": workers, "clients": clients, **runs[len(runs) // 2],
                             "rps_range": (runs[0]["rps"], runs[-1]["rps"]),
                             "p50_range": (min(r["p50_ms"] for r in runs), max(r["p50_ms"] for r in runs))})
    print(f"response cache off (every request runs path/related/ask on the library; query embeddings cached); "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; the median of {rounds} rounds, new "
          "connections each")
    print(f"{'workers':>7} {'clients':>7} {'requests/s':>11} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"
          f"   {'req/s range':>13} {'p50 range':>11}   p50 path / related / ask")
    for r in rows:
        parts = " / ".join(f"{r['by_endpoint'][k]['p50_ms']:.1f}" for k in ("path", "related", "ask") if k in r["by_endpoint"])
        spread = f"{r['rps_range'][0]:.0f}-{r['rps_range'][1]:.0f}"
        p50s = f"{r['p50_range'][0]:.1f}-{r['p50_range'][1]:.1f}"
        print(f"{r['workers']:>7} {r['clients']:>7} {r['rps']:>11.1f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} "
              f"{r['p99_ms']:>7.1f} {r['errors']:>6}   {spread:>13} {p50s:>11}   {parts}")
    best = [r for r in rows if r["clients"] == 8]
    met = [r for r in best if r["p50_ms"] <= 15 and r["rps"] >= 300]
    print("aim at 8 clients: p50 <= 15 ms and >= 300 requests/s: "
          + ("met with " + ", ".join(f"{r['workers']} worker(s)" for r in met) if met else "MISSED")
          + " (clients send their next request at once, so the mean latency is clients / throughput)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--library", help="Use this library instead of building one.")
    ap.add_argument("--matrix", action="store_true",
                    help="Response cache off, 2 and 8 clients, 1 and 2 workers: the table of the scaling issue.")
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=8, help="Concurrent clients (each a process).")
    ap.add_argument("--time-cap", type=float, default=60.0, help="Stop issuing requests after this many seconds.")
    ap.add_argument("--workers", type=int, default=1, help="Server processes (aidlgraph serve --workers).")
    ap.add_argument("--access-log", action="store_true", help="Leave uvicorn's access log on (off by default here).")
    ap.add_argument("--no-response-cache", action="store_true",
                    help="Run every request through the library (AIDLGRAPH_RESPONSE_CACHE=0); the query "
                         "embeddings stay cached.")
    ap.add_argument("--with-ingest", action="store_true",
                    help="Also run the load while `aidlgraph ingest` of 300 new items runs in another process.")
    ap.add_argument("--json", action="store_true", help="Print the figures as JSON too.")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="aidlgraph-serve-load-") as tmp:
        tmp = Path(tmp)
        if args.library:
            library, what = Path(args.library), f"given library ({args.library})"
        else:
            library = tmp / "lib"
            t = time.perf_counter()
            what = build_library(library)
            print(f"built a library from the {what} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        if args.matrix:
            rows = matrix(library, tmp, args.requests, args.time_cap)
            if args.json:
                print(json.dumps({"library": what, "matrix": rows}, indent=2))
            return
        figures = []
        with running_server(library, args.workers, args.no_response_cache, tmp / "server.log",
                            args.access_log) as (port, _, server):
            urls = make_urls(port)
            warm_up(port, urls, args.workers)
            result = run_load(port, urls, args.requests, args.clients, args.time_cap)
            figures.append(summarise(result["records"], result["seconds"],
                                     f"{args.clients} clients, {len(urls)} distinct queries"))
            show(figures[-1])
            if args.with_ingest:
                figures.append(load_during_ingest(library, tmp, port, server, urls, args.clients))
                show(figures[-1])
        if args.json:
            print(json.dumps({"library": what, "workers": args.workers, "figures": figures}, indent=2))


def load_during_ingest(library: Path, tmp: Path, port: int, server, urls, clients: int) -> dict:
    """Load while `aidlgraph ingest` of 300 new items runs in another process."""
    source = ingest_file(tmp)
    env = {**os.environ, "AIDLGRAPH_HOME": str(library)}
    t0 = time.perf_counter()
    writer = subprocess.Popen(AIDLGRAPH + ["--library", str(library), "--wait", "60", "ingest", str(source)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    during: list = []
    while writer.poll() is None:
        chunk = run_load(port, urls, 200, clients, 10)
        during.extend(chunk["records"])
    t1 = time.perf_counter()
    output = writer.stdout.read().strip().splitlines()
    print(f"ingest in another process: {output[-1] if output else '?'} (exit {writer.returncode}, "
          f"{t1 - t0:.1f} s)", file=sys.stderr)
    window = [r for r in during if r[1] <= t1]
    after = wait_healthy(port, server, timeout=30)
    print(f"after the ingest /healthz reports {after['items']} items (generation {after['generation']})",
          file=sys.stderr)
    return summarise(window, t1 - t0, "while another process ingests")


def with_timeout_stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGINT)  # its own session: only the server and its workers
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


if __name__ == "__main__":
    main()
