"""HTTP API load benchmark: order upserts, event batches and loyalty operations against
`patron serve` on PostgreSQL and on SQLite, next to a bare FastAPI app (same order and event
routes and bodies, no database) in the same run.

    python bench/api_bench.py [--postgres URL] [--skip-sqlite] [--duration 20] [--workers 2]
                              [--rate 500] [--connections 32] [--wait-idle SECONDS]

For each target the server runs as a subprocess (`patron serve --workers N`, or uvicorn with the
bare app of this file) and the load comes from a second process (this script with `--client`):
a small asyncio HTTP/1.1 keep-alive client on raw streams, cheap on CPU since it shares the
machine with the server. Three loads per target, after a warm-up:

1. order upserts (`PUT /v1/orders/{id}`, a new order of 3 lines each), open loop at --rate
   requests/s for --duration s; latency from the scheduled send time, so that queueing in the
   server is not hidden (no coordinated omission);
2. order upserts, closed loop on --connections keep-alive connections: the highest rate;
3. event batches (`POST /v1/events`, 500 events each), closed loop on --event-connections;
4. when --rate was not sustained: order upserts, open loop at 70% of the closed-loop maximum;
5. loyalty operations (half `POST /v1/loyalty/members/{id}/actions` share actions, half
   `…/redeem` of 1–5 points, on 2,000 members opened with 1,000,000 points each under the
   sample programme), open loop at 400 requests/s, then closed loop on 16 connections; then
   order upserts again, closed loop, each now also crediting its points (not against the bare
   app).

The shop holds a catalogue of 5,000 SKUs and 50,000 customers (loaded with `patron ingest`; on
PostgreSQL, in a schema of its own that is dropped afterwards, then ANALYZEd) from which orders
and events draw. CPU seconds of the server processes, of PostgreSQL and of the
load generator are measured over each load (psutil), and whatever else used the machine.
Figures go to stdout and to bench/out/api_bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import csv
import json
import math
import os
import platform
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

import psutil
from fastapi import FastAPI, Header
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
PATRON = [sys.executable, "-m", "patron.cli.app"]
HOST = "127.0.0.1"
SHOP = "bench"
CUSTOMERS = 50_000
SKUS = 5_000
LINES_PER_ORDER = 3
EVENTS_PER_BATCH = 500
LOYALTY_MEMBERS = 2_000
LOYALTY_RATE = 400.0
APP_NAME = "patron_api_bench"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# ---------------------------------------------------------------------------------------------
# The baseline: a bare FastAPI app with the same two routes, parsing a similar pydantic body and
# answering a small JSON, without any database. Sync handlers, like Patron's (they run in the
# threadpool), so that the baseline pays the same framework costs.

OrderStatus = Literal["pending", "paid", "shipped", "completed", "cancelled", "refunded"]
EventType = Literal[
    "visit",
    "view",
    "search",
    "favorite",
    "cart_add",
    "cart_remove",
    "checkout_start",
    "inquiry",
    "review",
    "share",
    "sign_in",
]


class BareLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=128)
    quantity: int = Field(ge=1)
    unit_price_minor: int = Field(ge=0)


class BareOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=128)
    placed_at: AwareDatetime
    status: OrderStatus | None = None
    lines: list[BareLine] = Field(min_length=1, max_length=1000)


class BareEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(default=None, min_length=1, max_length=64)
    type: EventType
    occurred_at: AwareDatetime
    customer_id: str | None = Field(default=None, min_length=1, max_length=128)
    sku: str | None = Field(default=None, min_length=1, max_length=128)
    session_id: str | None = Field(default=None, max_length=128)


class BareEvents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[BareEvent] = Field(min_length=1, max_length=1000)


def bare_app() -> FastAPI:
    """The baseline app (uvicorn factory: `uvicorn api_bench:bare_app --factory`)."""
    app = FastAPI(title="bare baseline")

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.put("/v1/orders/{external_id}", status_code=201)
    def put_order(
        external_id: str, order: BareOrder, authorization: str = Header()
    ) -> dict[str, Any]:
        total = sum(line.quantity * line.unit_price_minor for line in order.lines)
        return {
            "external_id": external_id,
            "customer_id": order.customer_id,
            "status": order.status,
            "placed_at": order.placed_at.isoformat(),
            "total_minor": total,
            "line_count": len(order.lines),
        }

    @app.post("/v1/events")
    def post_events(batch: BareEvents, authorization: str = Header()) -> dict[str, int]:
        return {"accepted": len(batch.events), "duplicates": 0}

    return app


# ---------------------------------------------------------------------------------------------
# The load generator (runs in its own process: `api_bench.py --client JSON`).


@dataclass
class Load:
    """One load: what to send, how, for how long."""

    kind: Literal["orders", "events", "loyalty"]
    mode: Literal["open", "closed"]
    port: int
    token: str
    duration: float
    rate: float = 0.0
    connections: int = 1
    tag: str = "m"
    seed: int = 1


class Payloads:
    """Request bodies: new orders of 3 lines and batches of new events, over the shop's
    catalogue. Bodies are drawn from pools built before the measured window (the order id is in
    the path, each event's id is new), so that the load generator stays cheap on CPU."""

    TYPES = ("view",) * 6 + ("cart_add", "favorite", "visit", "checkout_start")
    POOL = 4096

    def __init__(self, tag: str, seed: int) -> None:
        self.tag = tag
        self.rng = random.Random(seed)
        self.prices = sku_prices()
        self.n = 0
        self.orders = [self._order_body() for _ in range(self.POOL)]
        self.tails = [self._event_tail() for _ in range(self.POOL * 4)]

    def order(self) -> tuple[str, str, bytes]:
        self.n += 1
        body = self.orders[self.n % self.POOL]
        return "PUT", f"/v1/orders/{self.tag}-{self.n}", body

    def events(self) -> tuple[str, str, bytes]:
        tag, tails, size = self.tag, self.tails, len(self.tails)
        first = self.n + 1
        self.n += EVENTS_PER_BATCH
        offset = self.rng.randrange(size)
        parts = [
            f'{{"event_id":"{tag}-{i}",{tails[(offset + i) % size]}'
            for i in range(first, self.n + 1)
        ]
        return "POST", "/v1/events", ('{"events":[' + ",".join(parts) + "]}").encode()

    def loyalty(self) -> tuple[str, str, bytes]:
        """Half share actions (2 points, a new share id each), half redemptions of 1–5 points
        (a new key each), on members drawn at random."""
        self.n += 1
        member = f"/v1/loyalty/members/C{self.rng.randint(1, LOYALTY_MEMBERS)}"
        ref = f"{self.tag}-{self.n}"
        if self.n % 2:
            return "POST", f"{member}/actions", f'{{"action":"share","ref":"{ref}"}}'.encode()
        points = self.rng.randint(1, 5)
        body = f'{{"points":{points},"key":"{ref}","reason":"bench"}}'
        return "POST", f"{member}/redeem", body.encode()

    def next(self, kind: str) -> tuple[str, str, bytes]:
        if kind == "orders":
            return self.order()
        return self.events() if kind == "events" else self.loyalty()

    def _order_body(self) -> bytes:
        rng = self.rng
        lines = ",".join(
            f'{{"sku":"SKU-{s}","quantity":{rng.randint(1, 3)},'
            f'"unit_price_minor":{self.prices[s]}}}'
            for s in rng.sample(range(1, SKUS + 1), LINES_PER_ORDER)
        )
        body = (
            f'{{"customer_id":"C{rng.randint(1, CUSTOMERS)}","placed_at":"{self._time()}",'
            f'"status":"paid","lines":[{lines}]}}'
        )
        return body.encode()

    def _event_tail(self) -> str:
        rng = self.rng
        customer = rng.randint(1, CUSTOMERS)
        return (
            f'"type":"{rng.choice(self.TYPES)}","customer_id":"C{customer}",'
            f'"sku":"SKU-{rng.randint(1, SKUS)}","occurred_at":"{self._time()}",'
            f'"session_id":"S{customer}-{rng.randint(1, 9)}"}}'
        )

    def _time(self) -> str:
        rng = self.rng
        return (
            f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
        )


def sku_prices() -> list[int]:
    """Unit price in fen of each SKU (index 0 unused), the same in the catalogue and orders."""
    rng = random.Random(7)
    return [0] + [int(rng.lognormvariate(8.0, 0.8)) + 100 for _ in range(SKUS)]


RECYCLE_S = (1.5, 2.5)


class Connection:
    """One HTTP/1.1 keep-alive connection: write a request, read status, headers and body.

    A connection is reopened after 1.5 to 2.5 s (``due``): the server's workers share one
    listening socket, and the worker that wins the accept keeps the connection; connections
    opened once, at idle, could stay on one worker for the whole load. Reopened under load,
    they go more often to the worker with time to accept, as with real clients."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.due = time.perf_counter() + random.uniform(*RECYCLE_S)

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """(status, body, connection reusable)."""
        self.writer.write(request)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        keep = True
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                keep = b"close" not in value.lower()
        if chunked:
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(length) if length else b""
        return status, body, keep

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append((await self.reader.readexactly(size + 2))[:-2])

    def close(self) -> None:
        self.writer.close()


async def open_spread(port: int, count: int) -> list[Connection]:
    """Open ``count`` connections a few ms apart: the server's workers share one listening
    socket and a worker that wakes up accepts every connection waiting, so connections opened
    at once would all land on one worker."""
    connections = []
    for _ in range(count):
        connections.append(await Connection.open(port))
        await asyncio.sleep(0.01)
    return connections


class Pool:
    """Idle connections reused first in, first out, so the load spreads over all of them (and so
    over the server's workers, which each accepted some); at most ``limit`` in use."""

    def __init__(self, port: int, limit: int) -> None:
        self.port = port
        self.idle: deque[Connection] = deque()
        self.slots = asyncio.Semaphore(limit)
        self.opened = 0

    async def fill(self, count: int) -> None:
        self.idle.extend(await open_spread(self.port, count))
        self.opened += count

    async def acquire(self) -> Connection:
        await self.slots.acquire()
        if self.idle:
            return self.idle.popleft()
        self.opened += 1
        return await Connection.open(self.port)

    def release(self, connection: Connection, reusable: bool) -> None:
        if reusable and time.perf_counter() < connection.due:
            self.idle.append(connection)
        else:
            connection.close()
        self.slots.release()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    accepted: int = 0
    duplicates: int = 0
    error_samples: list[str] = field(default_factory=list)

    def record(self, status: int, latency: float, body: bytes, kind: str) -> None:
        self.latencies.append(latency)
        self.statuses[status] += 1
        if 200 <= status < 300:
            if kind == "events":
                answer = json.loads(body)
                self.accepted += int(answer.get("accepted", 0))
                self.duplicates += int(answer.get("duplicates", 0))
        elif len(self.error_samples) < 5:
            self.error_samples.append(f"{status} {body[:300].decode(errors='replace')}")

    def failed(self, exc: BaseException) -> None:
        self.transport_errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"transport: {exc!r}")


def request_bytes(method: str, path: str, body: bytes, load: Load) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{load.port}\r\n"
        f"Authorization: Bearer {load.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


TRANSPORT = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


async def open_loop(load: Load, payloads: Payloads, tally: Tally) -> tuple[float, float, int]:
    """Send at ``load.rate`` requests/s on schedule, whatever the server's pace."""
    pool = Pool(load.port, limit=1024)
    await pool.fill(load.connections)
    handshake()
    pending: set[asyncio.Task[None]] = set()

    async def one(request: bytes, due: float) -> None:
        connection = await pool.acquire()
        sent = time.perf_counter()
        try:
            status, body, keep = await connection.exchange(request)
        except TRANSPORT as exc:
            tally.failed(exc)
            pool.release(connection, False)
            return
        tally.record(status, time.perf_counter() - min(due, sent), body, load.kind)
        pool.release(connection, keep)

    count = int(load.rate * load.duration)
    start = time.perf_counter() + 0.005
    for i in range(count):
        method, path, body = payloads.next(load.kind)
        request = request_bytes(method, path, body, load)
        due = start + i / load.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(request, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    return start, time.perf_counter(), pool.opened


async def closed_loop(load: Load, payloads: Payloads, tally: Tally) -> tuple[float, float, int]:
    """``load.connections`` connections, each sending its next request when the last answered."""
    connections = await open_spread(load.port, load.connections)
    opened = len(connections)
    handshake()
    start = time.perf_counter()
    deadline = start + load.duration

    async def runner(connection: Connection) -> None:
        nonlocal opened
        while time.perf_counter() < deadline:
            method, path, body = payloads.next(load.kind)
            request = request_bytes(method, path, body, load)
            sent = time.perf_counter()
            try:
                status, answer, keep = await connection.exchange(request)
            except TRANSPORT as exc:
                tally.failed(exc)
                keep = False
            else:
                tally.record(status, time.perf_counter() - sent, answer, load.kind)
            if not keep or time.perf_counter() >= connection.due:
                connection.close()
                connection = await Connection.open(load.port)
                opened += 1
        connection.close()

    await asyncio.gather(*(runner(c) for c in connections))
    return start, time.perf_counter(), opened


def handshake() -> None:
    """Tell the parent the connections are open, and wait for its go (it reads CPU counters)."""
    print("ready", flush=True)
    sys.stdin.readline()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


async def drive(load: Load) -> dict[str, Any]:
    payloads = Payloads(load.tag, load.seed)
    tally = Tally()
    run = open_loop if load.mode == "open" else closed_loop
    cpu_before = cpu_seconds()
    start, end, opened = await run(load, payloads, tally)
    client_cpu = cpu_seconds() - cpu_before
    elapsed = max(end - start, 1e-9)
    ordered = sorted(tally.latencies)
    completed = len(ordered)
    ok = sum(n for status, n in tally.statuses.items() if 200 <= status < 300)
    ms = [round(percentile(ordered, p) * 1000, 2) for p in (50, 95, 99, 100)]
    result: dict[str, Any] = {
        "load": {k: v for k, v in asdict(load).items() if k != "token"},
        "elapsed_s": round(elapsed, 3),
        "completed": completed,
        "ok": ok,
        "errors": completed - ok + tally.transport_errors,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "transport_errors": tally.transport_errors,
        "error_samples": tally.error_samples,
        "requests_per_s": round(ok / elapsed, 1),
        "p50_ms": ms[0],
        "p95_ms": ms[1],
        "p99_ms": ms[2],
        "max_ms": ms[3],
        "mean_ms": round(sum(ordered) / completed * 1000, 2) if completed else math.nan,
        "connections_opened": opened,
        "client_cpu_s": round(client_cpu, 3),
    }
    if load.mode == "open":
        result["scheduled"] = int(load.rate * load.duration)
    if load.kind == "events":
        result["events_accepted"] = tally.accepted
        result["events_duplicates"] = tally.duplicates
        result["events_per_s"] = round((tally.accepted + tally.duplicates) / elapsed, 1)
    return result


def client_main(spec: str) -> None:
    load = Load(**json.loads(spec))
    try:
        import uvloop  # noqa: PLC0415  (optional: a cheaper event loop for the load generator)
    except ImportError:
        result = asyncio.run(drive(load))
    else:
        result = uvloop.run(drive(load))
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# The orchestrator: databases, servers, loads, CPU accounting, report.


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A server subprocess in a session of its own, so that it and its workers stop together."""

    running: ClassVar[list[Server]] = []

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.log_path = OUT / f"api_server_{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=OUT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        Server.running.append(self)
        deadline = time.monotonic() + timeout
        url = f"http://{HOST}:{self.port}/readyz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited: see {self.log_path}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server not ready after {timeout} s: see {self.log_path}")

    def processes(self) -> list[psutil.Process]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        return []

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Workers left behind by a killed supervisor are still in its process group.
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self in Server.running:
            Server.running.remove(self)


def stop_all() -> None:
    for server in list(Server.running):
        server.stop()


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@dataclass
class CpuSnapshot:
    wall: float
    busy: float
    server: dict[int, float]
    postgres: dict[int, float]
    me: float
    softirq: float
    processes: dict[int, tuple[float, str]]
    forks: int
    # CPU of PostgreSQL backends that ended (the postmaster's reaped children).
    postgres_ended: float


def _proc_cpu(proc: psutil.Process) -> float | None:
    try:
        times = proc.cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


def snapshot(server: Server) -> CpuSnapshot:
    machine = psutil.cpu_times()
    busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
    server_cpu = {p.pid: c for p in server.processes() if (c := _proc_cpu(p)) is not None}
    postgres: dict[int, float] = {}
    processes: dict[int, tuple[float, str]] = {}
    ended = 0.0
    for proc in psutil.process_iter(["name", "cpu_times", "cmdline", "ppid"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        cpu = float(times.user + times.system)
        name = proc.info["name"] or ""
        if name.startswith("postgres"):
            postgres[proc.pid] = cpu
            if proc.info["ppid"] == 1 or " -D " in " ".join(proc.info["cmdline"] or []):
                ended += float(times.children_user + times.children_system)
        processes[proc.pid] = (cpu, " ".join(proc.info["cmdline"] or [name])[:80])
    return CpuSnapshot(
        time.perf_counter(),
        busy,
        server_cpu,
        postgres,
        cpu_seconds(),
        machine.softirq,
        processes,
        forks(),
        ended,
    )


def forks() -> int:
    """Processes created since boot (short-lived ones escape the per-process counters)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("processes "):
                return int(line.split()[1])
    return 0


def _delta(before: dict[int, float], after: dict[int, float], pids: set[int] | None) -> float:
    return sum(v - before.get(pid, 0.0) for pid, v in after.items() if pids is None or pid in pids)


def cpu_report(
    before: CpuSnapshot,
    after: CpuSnapshot,
    client_cpu: float,
    pids: tuple[set[int], set[int]],
    requests: int,
    client_pid: int,
) -> dict[str, Any]:
    """CPU over one load: seconds per request of the server and of its PostgreSQL backends, and
    cores (CPU seconds per wall second) of each party, ``other`` being everything else on the
    machine (other people's work, PostgreSQL backends of other clients included).

    PostgreSQL backends that ended during the load are counted as the server's when ``pids``
    names any (a server whose pool opens and closes connections under load ends many); their
    number is in ``postgres_sessions_opened``."""
    ours, background = pids
    wall = after.wall - before.wall
    server = _delta(before.server, after.server, None)
    postgres_ended = after.postgres_ended - before.postgres_ended if ours else 0.0
    postgres_all = _delta(before.postgres, after.postgres, None) + postgres_ended
    postgres = _delta(before.postgres, after.postgres, ours) + postgres_ended
    postgres_background = _delta(before.postgres, after.postgres, background)
    busy = after.busy - before.busy
    mine = server + postgres + postgres_background + client_cpu + (after.me - before.me)
    known = {*after.server, *ours, *background, client_pid, os.getpid()}
    others = sorted(
        (
            (cpu - before.processes.get(pid, (0.0, ""))[0], label)
            for pid, (cpu, label) in after.processes.items()
            if pid not in known
        ),
        reverse=True,
    )
    per_process = sorted(
        (round(v - before.server.get(pid, 0.0), 2) for pid, v in after.server.items()),
        reverse=True,
    )
    return {
        "wall_s": round(wall, 2),
        "machine_busy_cores": round(busy / wall, 2),
        "server_cores": round(server / wall, 2),
        "server_cpu_s_per_process": [v for v in per_process if v > 0],
        "postgres_cores": round(postgres / wall, 2),
        "postgres_background_cores": round(postgres_background / wall, 2),
        "postgres_ended_backends_cores": round(postgres_ended / wall, 2),
        "postgres_all_cores": round(postgres_all / wall, 2),
        "client_cores": round(client_cpu / wall, 2),
        "other_cores": round(max(busy - mine, 0.0) / wall, 2),
        "softirq_cores": round((after.softirq - before.softirq) / wall, 2),
        "processes_started": after.forks - before.forks,
        "other_top": [[label, round(cpu / wall, 2)] for cpu, label in others[:3] if cpu > 0.01],
        "server_cpu_ms_per_request": round(server / max(requests, 1) * 1000, 3),
        "postgres_cpu_ms_per_request": round(postgres / max(requests, 1) * 1000, 3),
    }


def run_load(load: Load, server: Server, pg: Postgres | None = None) -> dict[str, Any]:
    """Run ``load`` in a client process, with CPU counters read around its measured window."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--client", json.dumps(asdict(load))]
    client = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=BENCH
    )
    try:
        assert client.stdin is not None and client.stdout is not None
        line = client.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"load generator failed to start: {line!r}")
        sessions = pg.sessions() if pg is not None else 0
        before = snapshot(server)
        client.stdin.write("go\n")
        client.stdin.flush()
        line = client.stdout.readline()
        after = snapshot(server)
        sessions = pg.sessions() - sessions if pg is not None else 0
        if not line.strip():
            raise RuntimeError("load generator died (see its stderr above)")
        result: dict[str, Any] = json.loads(line)
        client.wait(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    pids = pg.backend_pids() if pg is not None else (set(), set())
    result["cpu"] = cpu_report(
        before, after, result["client_cpu_s"], pids, result["completed"], client.pid
    )
    if pg is not None:
        result["cpu"]["postgres_sessions_opened"] = sessions
    return result


class Postgres:
    """A fresh schema of its own per run (dropped afterwards), reached by search_path."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, text  # noqa: PLC0415
        from sqlalchemy.pool import NullPool  # noqa: PLC0415

        self.text = text
        self.engine = create_engine(url, poolclass=NullPool)
        self.schema = f"bench_api_{uuid.uuid4().hex[:8]}"
        sep = "&" if "?" in url else "?"
        self.url = f"{url}{sep}options=-csearch_path%3D{self.schema}&application_name={APP_NAME}"
        with self.engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            self.version = str(connection.execute(text("SHOW server_version")).scalar())
        # One long-lived session for the probes read during the loads (autocommit: statistics
        # views are snapshots within a transaction).
        self.probe = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def backend_pids(self) -> tuple[set[int], set[int]]:
        """Pids of the server's backends, and of PostgreSQL's own background processes."""
        rows = self.probe.execute(
            self.text("SELECT pid, application_name, backend_type FROM pg_stat_activity")
        ).all()
        ours = {int(r[0]) for r in rows if r[1] == APP_NAME}
        background = {int(r[0]) for r in rows if r[2] != "client backend"}
        return ours, background

    def sessions(self) -> int:
        """Sessions opened in the database so far (by anyone: other clients share it)."""
        query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        return int(self.probe.execute(self.text(query)).scalar() or 0)

    def stats(self) -> dict[str, Any]:
        with self.engine.connect() as connection:
            settings = {
                name: str(connection.execute(self.text(f"SHOW {name}")).scalar())
                for name in ("shared_buffers", "synchronous_commit", "max_connections")
            }
        return settings

    def analyze(self) -> None:
        """Table statistics, as autovacuum would have them a minute later: right after the
        catalogue is loaded the planner would scan a shop's rows instead of using the key."""
        with self.engine.begin() as connection:
            tables = connection.execute(
                self.text("SELECT tablename FROM pg_tables WHERE schemaname = :s"),
                {"s": self.schema},
            ).scalars()
            for table in list(tables):
                connection.execute(self.text(f'ANALYZE "{self.schema}"."{table}"'))

    def drop(self) -> None:
        self.probe.close()
        with self.engine.begin() as connection:
            connection.execute(self.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self.engine.dispose()


def catalogue_files() -> tuple[Path, Path]:
    """The shop's 5,000 products and 50,000 customers, as generic-profile CSV files."""
    products, customers = OUT / "api_products.csv", OUT / "api_customers.csv"
    prices = sku_prices()
    with products.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sku", "title", "list_price"])
        for s in range(1, SKUS + 1):
            writer.writerow(
                [f"SKU-{s}", f"Product {s}", f"{prices[s] // 100}.{prices[s] % 100:02d}"]
            )
    rng = random.Random(3)
    with customers.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["customer_id", "signup_at", "city_tier"])
        for c in range(1, CUSTOMERS + 1):
            day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            writer.writerow([f"C{c}", f"{day} 10:00:00", rng.randint(1, 6)])
    return products, customers


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    env["PATRON_API_RATE_PER_SECOND"] = "0"
    env["PATRON_QUARANTINE_DIR"] = str(OUT / "api_quarantine")
    return env


def prepare(url: str, catalogue: tuple[Path, Path]) -> tuple[str, str]:
    """Schema, shop, catalogue, a write key and an admin key, through the CLI; returns the
    keys."""
    env = cli_env()

    def patron(*args: str) -> str:
        done = subprocess.run(
            [*PATRON, "--db", url, *args],
            check=False,
            env=env,
            cwd=OUT,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"patron {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    patron("db", "upgrade")
    patron("shops", "create", SHOP, "--timezone", "Asia/Shanghai", "--currency", "CNY")
    patron("--shop", SHOP, "ingest", "products", str(catalogue[0]))
    patron("--shop", SHOP, "ingest", "customers", str(catalogue[1]))
    token = patron("keys", "create", "--shop", SHOP, "--scopes", "write", "--label", "bench")
    admin = patron("keys", "create", "--shop", SHOP, "--scopes", "admin", "--label", "setup")
    return token.strip().splitlines()[-1], admin.strip().splitlines()[-1]


def open_programme(port: int, admin: str) -> None:
    """The sample programme with uncapped shares, and 1,000,000 points for each of the first
    LOYALTY_MEMBERS customers (so that redemptions are never refused for want of points)."""
    from patron.loyalty.programme import sample_programme, to_dict  # noqa: PLC0415

    document = to_dict(sample_programme())
    document["earn"]["share"] = {"points": 2}
    document["earn"]["yearly_cap"] = None

    def call(method: str, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"http://{HOST}:{port}{path}",
            data=json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()

    call("PUT", "/v1/loyalty/programme", document)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda n: call(
                    "POST",
                    f"/v1/loyalty/members/C{n}/adjust",
                    {"points": 1_000_000, "reason": "opening balance", "key": f"open-{n}"},
                ),
                range(1, LOYALTY_MEMBERS + 1),
            )
        )


def measure(
    name: str,
    server: Server,
    token: str,
    args: argparse.Namespace,
    pg: Postgres | None = None,
    admin: str | None = None,
) -> dict[str, Any]:
    """Warm up, then the three loads; each load's orders and events are new. When the open
    loop at --rate was not sustained, one more open loop at 70% of the closed-loop maximum shows
    the latency at a rate the server does sustain."""
    nonce = uuid.uuid4().hex[:6]

    def load(kind: str, mode: str, duration: float, tag: str, **kw: Any) -> Load:
        return Load(kind, mode, server.port, token, duration, tag=f"{tag}{nonce}", **kw)  # type: ignore[arg-type]

    results: dict[str, Any] = {}
    if args.warmup > 0:
        run_load(load("orders", "closed", args.warmup, "W", connections=8), server)
        run_load(load("events", "closed", min(args.warmup, 3.0), "WE", connections=2), server)
    loads = {
        "orders_open": load("orders", "open", args.duration, "O", rate=args.rate, connections=32),
        "orders_closed": load(
            "orders", "closed", args.duration, "K", connections=args.connections, seed=2
        ),
        "events_closed": load(
            "events", "closed", args.duration, "E", connections=args.event_connections, seed=3
        ),
    }
    for key, spec in loads.items():
        results[key] = run_load(spec, server, pg)
        print(f"  {name:10} {key:14} {brief(results[key])}", flush=True)
    if not sustained(results["orders_open"]):
        fit = math.floor(0.7 * results["orders_closed"]["requests_per_s"] / 10) * 10
        if fit >= 10:
            spec = load("orders", "open", args.duration, "F", rate=fit, connections=32, seed=4)
            results["orders_open_fit"] = run_load(spec, server, pg)
            print(f"  {name:10} {'orders_open_fit':14} {brief(results['orders_open_fit'])}")
    if admin is not None:  # last: once a programme is set, every order write credits it
        open_programme(server.port, admin)
        loyalty = {
            "loyalty_open": load("loyalty", "open", args.duration, "L", rate=LOYALTY_RATE),
            "loyalty_closed": load("loyalty", "closed", args.duration, "M", connections=16),
            # Orders of a shop with a programme: each also credits its points.
            "orders_credited": load(
                "orders", "closed", args.duration, "Q", connections=args.connections, seed=5
            ),
        }
        for key, spec in loyalty.items():
            results[key] = run_load(spec, server, pg)
            print(f"  {name:10} {key:14} {brief(results[key])}", flush=True)
    return results


def sustained(o: dict[str, Any]) -> bool:
    """The open loop kept pace: every scheduled request answered 2xx, at >= 99% of the rate
    (elapsed from the first scheduled send to the last answer)."""
    return bool(
        o["errors"] == 0
        and o["ok"] >= o["scheduled"]
        and o["requests_per_s"] >= 0.99 * o["load"]["rate"]
    )


def brief(r: dict[str, Any]) -> str:
    rate = f"{r['events_per_s']:>9,.0f} events/s" if "events_per_s" in r else ""
    return (
        f"{r['requests_per_s']:>8,.1f} req/s  p50 {r['p50_ms']:.1f}  p99 {r['p99_ms']:.1f}  "
        f"max {r['max_ms']:.1f} ms  errors {r['errors']}  "
        f"server {r['cpu']['server_cpu_ms_per_request']:.2f} CPU ms/req  "
        f"other {r['cpu']['other_cores']:.2f} cores {rate}"
    )


def patron_server(url: str, args: argparse.Namespace, name: str) -> Server:
    port = free_port()
    env = cli_env()
    if args.pool_size is not None:
        env["PATRON_DATABASE_POOL_SIZE"] = str(args.pool_size)
    argv = [*PATRON, "--db", url, "serve", "--host", HOST, "--port", str(port)]
    return Server(name, [*argv, "--workers", str(args.workers)], env, port)


def bare_server(args: argparse.Namespace) -> Server:
    port = free_port()
    argv = [
        *(sys.executable, "-m", "uvicorn", "api_bench:bare_app", "--factory"),
        *("--app-dir", str(BENCH), "--host", HOST, "--port", str(port)),
        *("--workers", str(args.workers), "--log-level", "warning"),
    ]
    return Server("bare", argv, cli_env(), port)


def wait_idle(limit: float, threshold: float = 0.25) -> float:
    """Wait up to ``limit`` seconds for the machine to be idle (under ``threshold`` cores busy
    over 5 s): other people's work skews every figure. Returns the busy cores last seen."""
    deadline = time.monotonic() + limit
    while True:
        before = psutil.cpu_times()
        time.sleep(5)
        after = psutil.cpu_times()
        busy = sum(
            getattr(after, f) - getattr(before, f)
            for f in ("user", "nice", "system", "irq", "softirq")
        )
        if busy / 5 < threshold or time.monotonic() >= deadline:
            return round(float(busy) / 5, 2)
        print(f"machine busy ({busy / 5:.2f} cores): waiting", flush=True)


def machine_facts() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    return {
        "arch": platform.machine(),
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "packages": {
            n: pkg(n)
            for n in (
                "patron",
                "fastapi",
                "starlette",
                "pydantic",
                "uvicorn",
                "uvloop",
                "httptools",
            )
        },
    }


def overhead(bare: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """Target against the bare app: ratios (target / bare) and differences in ms. Open-loop
    latencies are compared at the rate the target sustained (--rate, else the 70% one)."""
    out: dict[str, Any] = {}
    b, t = bare["orders_open"], target["orders_open"]
    if not sustained(t) and "orders_open_fit" in target:
        t = target["orders_open_fit"]
    out["open_target_rate"] = t["load"]["rate"]
    out["open_bare_rate"] = b["load"]["rate"]
    for p in ("p50_ms", "p99_ms"):
        out[f"open_{p}_ratio"] = round(t[p] / b[p], 1) if b[p] else None
        out[f"open_{p}_diff"] = round(t[p] - b[p], 2)
    b, t = bare["orders_closed"], target["orders_closed"]
    out["closed_rate_ratio"] = round(t["requests_per_s"] / b["requests_per_s"], 3)
    out["closed_p99_ms_ratio"] = round(t["p99_ms"] / b["p99_ms"], 1) if b["p99_ms"] else None
    bc, tc = b["cpu"]["server_cpu_ms_per_request"], t["cpu"]["server_cpu_ms_per_request"]
    out["order_server_cpu_ms_diff"] = round(tc - bc, 3)
    out["order_server_cpu_ratio"] = round(tc / bc, 1) if bc else None
    b, t = bare["events_closed"], target["events_closed"]
    out["events_rate_ratio"] = round(t["events_per_s"] / b["events_per_s"], 3)
    bc, tc = b["cpu"]["server_cpu_ms_per_request"], t["cpu"]["server_cpu_ms_per_request"]
    out["batch_server_cpu_ms_diff"] = round(tc - bc, 2)
    return out


def bars(target: dict[str, Any], rate: float) -> dict[str, Any]:
    """The bars: >= 500 order upserts/s sustained with p99 <= 50 ms; >= 20,000 events/s;
    >= 400 loyalty operations/s sustained."""
    o = target["orders_open"]
    kept = rate >= 500 and sustained(o)
    return {
        "orders_500_per_s": "met" if kept else ("n/a" if rate < 500 else "not met"),
        "orders_p99_50ms": "n/a" if rate < 500 else ("met" if o["p99_ms"] <= 50 else "not met"),
        "events_20000_per_s": "met"
        if target["events_closed"]["events_per_s"] >= 20_000
        else "not met",
        "loyalty_400_per_s": "met" if sustained(target["loyalty_open"]) else "not met",
    }


def table(results: dict[str, Any]) -> str:
    rows = [
        f"{'target':10} {'load':26} {'req/s':>8} {'events/s':>9} {'p50':>7} {'p95':>7} "
        f"{'p99':>7} {'max':>7} {'err':>5} {'srv ms':>7} {'pg ms':>6} {'other':>5}"
    ]
    for name, target in results["targets"].items():
        for key, r in target.items():
            label = {
                "orders_open": f"orders open @{r['load']['rate']:g}/s",
                "orders_open_fit": f"orders open @{r['load']['rate']:g}/s",
                "orders_closed": f"orders closed x{r['load']['connections']}",
                "events_closed": f"events x500 closed x{r['load']['connections']}",
                "loyalty_open": f"loyalty open @{r['load']['rate']:g}/s",
                "loyalty_closed": f"loyalty closed x{r['load']['connections']}",
                "orders_credited": f"orders+points closed x{r['load']['connections']}",
            }[key]
            events = f"{r['events_per_s']:,.0f}" if "events_per_s" in r else ""
            rows.append(
                f"{name:10} {label:26} {r['requests_per_s']:>8,.1f} {events:>9} "
                f"{r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} "
                f"{r['errors']:>5} {r['cpu']['server_cpu_ms_per_request']:>7.2f} "
                f"{r['cpu']['postgres_cpu_ms_per_request']:>6.2f} {r['cpu']['other_cores']:>5.2f}"
            )
    rows.append(
        "latencies in ms; srv/pg ms: CPU ms per request of the server processes / PostgreSQL; "
        "other: cores used by anything else"
    )
    for name, o in results.get("overhead", {}).items():
        rows.append(f"{name} vs bare: {json.dumps(o)}")
    for name, b in results.get("bars", {}).items():
        rows.append(f"{name} bars: {json.dumps(b)}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="admin URL (a schema is made)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up load")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--pool-size", type=int, help="database connections per server process (default: Patron's)"
    )
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop requests/s")
    parser.add_argument("--connections", type=int, default=32, help="closed-loop orders")
    parser.add_argument("--event-connections", type=int, default=8, help="closed-loop events")
    parser.add_argument(
        "--wait-idle", type=float, default=0.0, help="wait up to S seconds for an idle machine"
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client)
        return

    signal.signal(signal.SIGTERM, _terminate)
    atexit.register(stop_all)
    OUT.mkdir(exist_ok=True)
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine_facts(),
        "params": {
            k: v for k, v in vars(args).items() if k not in ("client", "postgres", "skip_sqlite")
        },
        "targets": {},
    }
    out_path = OUT / "api_bench.json"
    catalogue = catalogue_files()
    if args.wait_idle > 0:
        results["machine"]["busy_cores_before_start"] = wait_idle(args.wait_idle)
    try:
        if not args.skip_baseline:
            server = bare_server(args)
            server.start()
            try:
                results["targets"]["bare"] = measure("bare", server, "bare-token", args)
            finally:
                server.stop()
        if not args.skip_postgres:
            pg = Postgres(args.postgres)
            results["machine"]["postgresql"] = pg.version
            results["machine"]["postgresql_settings"] = pg.stats()
            try:
                token, admin = prepare(pg.url, catalogue)
                pg.analyze()
                server = patron_server(pg.url, args, "postgresql")
                server.start()
                try:
                    results["targets"]["postgresql"] = measure(
                        "postgresql", server, token, args, pg, admin
                    )
                finally:
                    server.stop()
            finally:
                pg.drop()
        if not args.skip_sqlite:
            db = OUT / "api_bench.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            url = f"sqlite:///{db}"
            token, admin = prepare(url, catalogue)
            server = patron_server(url, args, "sqlite")
            server.start()
            try:
                results["targets"]["sqlite"] = measure("sqlite", server, token, args, None, admin)
            finally:
                server.stop()
    finally:
        stop_all()
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        targets = results["targets"]
        if "bare" in targets:
            results["overhead"] = {
                n: overhead(targets["bare"], t) for n, t in targets.items() if n != "bare"
            }
        results["bars"] = {n: bars(t, args.rate) for n, t in targets.items() if n != "bare"}
        out_path.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"written to {out_path}")


if __name__ == "__main__":
    main()
