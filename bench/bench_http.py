"""HTTP benchmark on loopback: the API under uvicorn (SQLite), a load generator in a second process.

    .venv/bin/python bench/bench_http.py [--rate 200] [--seconds 5] [--batches 5]

1. Starts ``drawdown serve`` on a free 127.0.0.1 port over a fresh SQLite file seeded with
   one account holding a large grant, and creates a service and an admin key.
2. A second process sends requests at a FIXED rate (open loop: request i is due at
   ``i / rate`` whether or not earlier ones have finished, spread over a few threads, each
   with its own keep-alive connection) and reports p50/p99 latency for:
     - baseline       GET  /v1/health                      (no key, no database)
     - balance read   GET  /v1/accounts/bench/balance      (service key)
     - authorize      POST /v1/authorize                   (rate card, drawdown plan, balance; no write)
     - charge         POST /v1/accounts/bench/charges      (a ledger write, Idempotency-Key each)
     - reserve+capture POST /v1/holds, then POST /v1/holds/{id}/capture (two writes; the pair is timed)
3. Throughput, back to back, against the closed-loop throughput of /v1/health in the same
   run: event ingest (POST /v1/events, 1,000 events per request) and grant issuing
   (POST /v1/grants/batch, 1,000 grants per request).
Prints each figure beside its same-run baseline, and the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
DRAWDOWN = str(Path(sys.executable).with_name("drawdown"))
THREADS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(db: str) -> dict[str, str]:
    import drawdown

    with drawdown.open(db) as book:
        book.create_account("bench", currency="USD")
        book.issue_grant("bench", "100000000", "USD", source="purchased", cost_basis="1")
        book.define_unit("AI_CREDIT", scale=3)
        book.issue_grant("bench", "100000000", "AI_CREDIT", source="purchased", cost_basis="1")
        book.define_rate_card("std", "AI_CREDIT", {"chat": "0.5"})
        book.configure_account("bench", mode="enforce", rate_card="std")
        book.define_meter("chats", event_type="chat", aggregation="sum")
        for n in range(20):
            book.create_account(f"bench-{n}", currency="USD")
        return {"service": book.create_key("service").token, "admin": book.create_key("admin").token}


def fixed_rate(base: str, method: str, path: str, token: str | None, body: Any, rate: float, seconds: float,
               out: Any) -> None:  # fmt: skip
    """Runs in the load-generator process: open-loop requests at ``rate`` per second."""
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            client.get("/v1/health")  # open the connection before the clock starts
            for i in range(k, total, THREADS):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                extra = {"Idempotency-Key": f"bench-{os.getpid()}-{path}-{i}"} if method == "POST" else {}
                t0 = time.perf_counter()
                if method == "HOLD":  # reserve, then capture what the hold covers
                    response = client.post("/v1/holds", json=body, headers={"Idempotency-Key": f"r-{i}"})
                    if response.status_code == 201:
                        capture = f"/v1/holds/{response.json()['id']}/capture"
                        response = client.post(capture, json={"quantity": "1"}, headers={"Idempotency-Key": f"c-{i}"})
                else:
                    response = client.request(method, path, json=body, headers=extra)
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if response.status_code >= 300:
                        errors.append(response.status_code)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    out.put({"latencies": latencies, "errors": errors, "achieved_rate": len(latencies) / wall})


def closed_loop(base: str, method: str, path: str, token: str | None, bodies: list[Any], out: Any) -> None:
    """Runs in the load-generator process: one request after another, as fast as it goes."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        client.get("/v1/health")
        statuses = []
        t0 = time.perf_counter()
        for body in bodies:
            statuses.append(client.request(method, path, json=body).status_code)
        out.put({"seconds": time.perf_counter() - t0, "statuses": statuses})


def in_second_process(target: Any, *args: Any) -> dict[str, Any]:
    queue: Any = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=target, args=(*args, queue))
    proc.start()
    result: dict[str, Any] = queue.get(timeout=600)
    proc.join()
    return result


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second for the latency runs")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each latency run")
    parser.add_argument("--batches", type=int, default=5, help="grant batches of 1,000 to issue")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="drawdown-bench-")
    db = f"sqlite:///{workdir}/bench.db"
    tokens = seed(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DRAWDOWN_LOG_LEVEL": "warning"}
    server = subprocess.Popen([DRAWDOWN, "serve", "--db", db, "--port", str(port)], env=env, cwd=workdir)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        run(base, tokens, args)
    finally:
        server.terminate()
        server.wait(15)


def run(base: str, tokens: dict[str, str], args: argparse.Namespace) -> None:
    scenarios = [
        ("baseline GET /v1/health", "GET", "/v1/health", None, None),
        ("balance read (authorize-like)", "GET", "/v1/accounts/bench/balance", tokens["service"], None),
        ("charge (ledger write)", "POST", "/v1/accounts/bench/charges", tokens["service"],
         {"amount": "0.01", "unit": "USD", "product": "api"}),
        ("authorize", "POST", "/v1/authorize", tokens["service"],
         {"account": "bench", "feature": "chat", "quantity": "2"}),
        ("reserve+capture (two writes)", "HOLD", "/v1/holds", tokens["service"],
         {"account": "bench", "feature": "chat", "quantity": "2", "ttl_seconds": 60}),
    ]  # fmt: skip
    print(
        f"fixed rate {args.rate:.0f} req/s for {args.seconds:.0f} s each, {THREADS} connections, SQLite, loopback; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work on the machine skews figures)\n"
    )
    print(f"{'scenario':34} {'p50 ms':>8} {'p99 ms':>8} {'x p50':>7} {'x p99':>7} {'rate/s':>7} {'errors':>6}")
    baseline: tuple[float, float] | None = None
    for name, method, path, token, body in scenarios:
        result = in_second_process(fixed_rate, base, method, path, token, body, args.rate, args.seconds)
        p50, p99 = pct(result["latencies"], 50), pct(result["latencies"], 99)
        baseline = baseline or (p50, p99)
        print(f"{name:34} {p50:8.2f} {p99:8.2f} {p50 / baseline[0]:7.1f} {p99 / baseline[1]:7.1f} "
              f"{result['achieved_rate']:7.0f} {len(result['errors']):6d}")  # fmt: skip

    health = in_second_process(closed_loop, base, "GET", "/v1/health", None, [None] * 2000)
    health_rate = len(health["statuses"]) / health["seconds"]
    batches = [
        {
            "grants": [
                {
                    "account": f"bench-{(b * 1000 + i) % 20}",
                    "amount": "1.50",
                    "unit": "USD",
                    "source": "promotional",
                    "reason_code": "bench",
                }
                for i in range(1000)
            ]
        }
        for b in range(args.batches)
    ]
    now = datetime.now(UTC).isoformat()
    event_batches = [
        {"events": [{"key": f"ev-{b}-{i}", "account": "bench", "type": "chat", "time": now, "quantity": "1"}
                    for i in range(1000)]}
        for b in range(args.batches)
    ]  # fmt: skip
    ingested = in_second_process(closed_loop, base, "POST", "/v1/events", tokens["service"], event_batches)
    assert set(ingested["statuses"]) == {200}, ingested["statuses"]
    events_rate = 1000 * len(event_batches) / ingested["seconds"]
    issued = in_second_process(closed_loop, base, "POST", "/v1/grants/batch", tokens["admin"], batches)
    assert set(issued["statuses"]) == {201}, issued["statuses"]
    grants_rate = 1000 * len(batches) / issued["seconds"]
    print(f"\nbaseline GET /v1/health closed loop: {health_rate:8.0f} requests/s")
    print(f"event ingest, batches of 1,000:     {events_rate:8.0f} events/s "
          f"({ingested['seconds'] / len(event_batches) * 1000:.0f} ms per batch; "
          f"{health_rate / events_rate:.2f} x the time of one trivial request per event)")  # fmt: skip
    print(f"grant issuing, batches of 1,000:    {grants_rate:8.0f} grants/s "
          f"({issued['seconds'] / len(batches) * 1000:.0f} ms per batch; "
          f"{health_rate / grants_rate:.1f} x the time of one trivial request per grant)")  # fmt: skip


if __name__ == "__main__":
    main()
