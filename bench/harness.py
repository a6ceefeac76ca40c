"""What every benchmark needs: an isolated system (its own database ``cc_bench_<id>``, a unique bus
prefix, free ports, an in-process SMTP sink), latency statistics and a timer."""

import asyncio
import contextlib
import io
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
from aiosmtpd.controller import Controller

from services.cli import migrate_all, seed_demo
from services.system import SERVICES, System
from shared.sealing import new_key_entry

BASE_DATABASE_URL = os.environ.get("CC_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/customer_center")
AMQP_URL = os.environ.get("CC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def latency_ms(values_s: list[float]) -> dict:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else None,
        "mean_ms": statistics.fmean(ms) if ms else None,
    }


class Sink:
    """An aiosmtpd server in this process (its own thread) that records when each recipient's
    message was accepted, and lets the event loop await an address."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.keep_bodies = True  # the soak turns it off: its harness must not grow either
        self.accepted: dict[str, float] = {}
        self.bodies: dict[str, bytes] = {}
        self.waiters: dict[str, asyncio.Future] = {}
        self.lock = threading.Lock()
        self.count = 0
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        now = time.monotonic()
        for address in envelope.rcpt_tos:
            with self.lock:
                self.accepted[address] = now
                if self.keep_bodies:
                    self.bodies[address] = envelope.content
                self.count += 1
                waiter = self.waiters.pop(address, None)
            if waiter is not None:
                self.loop.call_soon_threadsafe(_resolve, waiter, now)
        return "250 Message accepted"

    def expect(self, address: str) -> asyncio.Future:
        future = self.loop.create_future()
        with self.lock:
            if address in self.accepted:
                future.set_result(self.accepted[address])
            else:
                self.waiters[address] = future
        return future

    def forget(self, address: str) -> None:
        with self.lock:
            self.accepted.pop(address, None)
            self.bodies.pop(address, None)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def _resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


@dataclass
class BenchSystem:
    """Some of the services as real processes, on free ports, over a database and bus of their own."""

    name: str
    services: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def database_url(self) -> str:
        return urlunsplit(urlsplit(BASE_DATABASE_URL)._replace(path=f"/cc_bench_{self.name}_{self.run_id}"))

    @property
    def prefix(self) -> str:
        return f"bench.{self.name}.{self.run_id}."

    def url(self, service: str) -> str:
        return self.system.processes[service].url

    def pid(self, service: str) -> int:
        return self.system.processes[service].popen.pid

    async def __aenter__(self) -> "BenchSystem":
        self.admin_key = "cc_bench_admin_" + uuid.uuid4().hex
        with contextlib.redirect_stdout(io.StringIO()):
            await migrate_all(self.database_url)
            await seed_demo(self.database_url, self.admin_key)
        self.sink = Sink(asyncio.get_running_loop())
        self.sink.start()
        self.log_dir = Path(tempfile.mkdtemp(prefix=f"cc-bench-{self.name}-"))
        env = {
            "CC_DATABASE_URL": self.database_url,
            "CC_AMQP_URL": AMQP_URL,
            "CC_BUS_PREFIX": self.prefix,
            "CC_SMTP_HOST": "127.0.0.1",
            "CC_SMTP_PORT": str(self.sink.controller.port),
            "CC_LOG_FORMAT": "json",
            "CC_LINK_KEYS": new_key_entry("run"),
            **self.env,
        }
        self.system = System(env=env, ports={n: free_port() for n in SERVICES}, log_dir=self.log_dir)
        try:
            for service in self.services:
                self.system.start(service)
            await asyncio.to_thread(self.system.wait_ready, list(self.services), 90)
            self.pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=4)
        except BaseException:
            await self._clean_up(keep_logs=True)
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.pool.close()
        await self._clean_up(keep_logs=exc[0] is not None)

    async def _clean_up(self, keep_logs: bool) -> None:
        await asyncio.to_thread(self.system.stop_all)
        self.sink.stop()
        await drop_database(self.database_url)
        await delete_bus(self.prefix, [*SERVICES, "bench"])
        if keep_logs:
            print(f"bench: the {self.name} system's logs are in {self.log_dir}")
        else:
            import shutil

            shutil.rmtree(self.log_dir, ignore_errors=True)


async def drop_database(url: str) -> None:
    parts = urlsplit(url)
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
    finally:
        await admin.close()


async def delete_bus(prefix: str, services) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        for service in services:
            for queue in (f"{prefix}{service}.events", f"{prefix}{service}.events.dead"):
                await channel.queue_delete(queue)
        # notify's webhooks queue and the sink it declares (services/notify/webhooks/bindings.py)
        for queue in (f"{prefix}notify.webhooks", f"{prefix}cc.unrouted"):
            await channel.queue_delete(queue)
        for exchange in (f"{prefix}cc.events", f"{prefix}cc.dead"):
            await channel.exchange_delete(exchange)
    finally:
        await connection.close()


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM: the process's peak resident set size so far."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


async def cpu_per_request(pids: dict[str, int], run) -> tuple[dict, dict]:
    """``await run()`` (a ``load``) and the CPU milliseconds each process spent per request meanwhile:
    moved much less than req/s by what else the machine runs."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = await run()
    spent = {name: (cpu_seconds(pid) - before[name]) * 1000 / max(result["requests_all"], 1) for name, pid in pids.items()}
    return result, {**{name: round(ms, 3) for name, ms in spent.items()}, "total": round(sum(spent.values()), 3)}


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process (all its threads) has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_cpu_seconds() -> float | None:
    """CPU time the local RabbitMQ (its ``beam.smp``) has used so far; None when it is not a process
    of this machine this user can see."""
    total = None
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                comm = Path(f"/proc/{name}/comm").read_text().strip()
            except OSError:
                continue
            if comm == "beam.smp" and (cpu := cpu_seconds(int(name))) is not None:
                total = (total or 0.0) + cpu
    return total


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent working so far, whatever process (or the kernel's
    interrupt handling: loopback TCP is mostly that) spent it: ``/proc/stat``'s user, nice, system,
    irq and softirq; not idle, I/O wait, the time a hypervisor gave another guest (steal), nor the
    guest columns (already in user)."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    )
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """Calls ``sample()`` on entering, every ``interval`` seconds while entered, and on leaving."""

    interval: float
    task: asyncio.Task | None = None

    def sample(self) -> None:
        raise NotImplementedError

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.sample()

    async def __aenter__(self):
        self.sample()
        self.task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.sample()


class MachineCpu(Sampler):
    """``machine_busy_seconds()`` sampled every ``interval`` seconds while entered, so that the CPU of
    a window known only afterwards (by wall-clock times another process reports) can be read:
    ``between(start, end)``."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []

    def sample(self) -> None:
        self.samples.append((time.time(), machine_busy_seconds()))

    def between(self, start: float, end: float) -> float:
        """Busy CPU seconds from the last sample at or before ``start`` to the first at or after ``end``
        (the window widened by less than ``interval`` at each end)."""
        first = max((s for s in self.samples if s[0] <= start), default=self.samples[0])
        last = min((s for s in self.samples if s[0] >= end), default=self.samples[-1])
        return last[1] - first[1]


async def logged_in_contacts(bs: BenchSystem, session, n: int, concurrency: int = 4) -> list[dict]:
    """Contacts made the way a person becomes one: register, the welcome email's link, set password, log in."""
    import email
    import email.policy
    import re

    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> dict:
        async with gate:
            address = f"bench-{i}-{uuid.uuid4().hex[:8]}@example.org"
            accepted = bs.sink.expect(address)
            async with session.post(
                "/api/register", json={"site": "demo", "email": address, "first_name": "Ann", "last_name": "Lee"}
            ) as r:
                assert r.status == 201, await r.text()
                contact_id = (await r.json())["contact_id"]
            await asyncio.wait_for(accepted, timeout=60)
            msg = email.message_from_bytes(bs.sink.bodies[address], policy=email.policy.default)
            token = re.search(r"/password/set\?token=(\S+)", msg.get_body(("plain",)).get_content()).group(1)
            password = "bench passphrase " + uuid.uuid4().hex[:8]
            async with session.post("/api/password/set", json={"token": token, "new_password": password}) as r:
                assert r.status == 200, await r.text()
            async with session.post("/api/login", json={"site": "demo", "username": address, "password": password}) as r:
                assert r.status == 200, await r.text()
                tokens = await r.json()
            return {"email": address, "password": password, "contact_id": contact_id,
                    "auth": {"Authorization": f"Bearer {tokens['access_token']}"}}

    return await asyncio.gather(*(one(i) for i in range(n)))


async def load(url_of, headers_of, seconds: float, concurrency: int, warmup: float = 0.5) -> dict:
    """A closed-loop aiohttp load generator: ``concurrency`` clients, each sending its next request when
    the previous is answered. Returns req/s, latency percentiles, and the non-2xx count."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    requests_all = 0  # the warm-up's too
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        stop_warm = time.monotonic() + warmup
        stop = stop_warm + seconds

        async def client() -> None:
            nonlocal errors, requests_all
            while True:
                now = time.monotonic()
                if now >= stop:
                    return
                url = url_of()
                async with session.get(url, headers=headers_of()) as r:
                    await r.read()
                    ok = 200 <= r.status < 300
                done = time.monotonic()
                requests_all += 1
                if now >= stop_warm:
                    latencies.append(done - now)
                    errors += 0 if ok else 1

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return {"per_second": len(latencies) / seconds, "errors": errors, "requests_all": requests_all, **latency_ms(latencies)}


def profile(bs: BenchSystem, services, seconds: float, label: str) -> list:
    """With CC_BENCH_PROFILE=1: py-spy samples the services for ``seconds`` (collapsed stacks under
    bench/results/). Returns the py-spy processes to wait for."""
    import shutil
    import subprocess
    import sys

    if os.environ.get("CC_BENCH_PROFILE") != "1":
        return []
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    # the virtualenv's py-spy when the venv is not on PATH (``.venv/bin/python -m bench``)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(
            [py_spy, "record", "--format", "raw", "--nonblocking", "-d", str(int(seconds)), "-r", "200",
             "-p", str(bs.pid(s)), "-o", str(out / f"profile-{label}-{s}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for s in services
    ]


class DatabaseCpu(Sampler):
    """The CPU seconds PostgreSQL's backends spend serving one database, while this is entered: every
    backend of the database (found by its process title, ``postgres: <user> <database> ...``, so
    a run's short-lived connections count too) sampled every ``interval`` seconds (a backend's last
    moments before it exits are missed). ``spent()``: {"gone": backends that exited meanwhile (a
    finished process's pool), "alive": the others}."""

    def __init__(self, database: str, interval: float = 0.05) -> None:
        self.needle = f" {database} ".encode()
        self.interval = interval
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.gone: set[int] = set()
        self.other: set[int] = set()
        self.started = False

    def _scan(self, new_count_from_zero: bool) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit() or (pid := int(name)) in self.other or pid in self.last:
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if not cmdline.startswith(b"postgres: "):
                if b"postgres" not in cmdline.split(b"\0", 1)[0]:
                    self.other.add(pid)
                continue  # a backend just forked, not titled yet: looked at again next time
            if self.needle not in cmdline:
                self.other.add(pid)
                continue
            cpu = cpu_seconds(pid)
            if cpu is not None:
                self.first[pid] = 0.0 if new_count_from_zero else cpu
                self.last[pid] = cpu

    def _sample(self) -> None:
        for pid in self.last.keys() - self.gone:
            cpu = cpu_seconds(pid)
            if cpu is None:
                self.gone.add(pid)
            else:
                self.last[pid] = cpu

    def sample(self) -> None:
        # The backends there at the start count from their CPU then; any found later, from zero.
        self._scan(self.started)
        self.started = True
        self._sample()

    def spent(self) -> dict:
        gone = sum(self.last[p] - self.first[p] for p in self.gone)
        alive = sum(self.last[p] - self.first[p] for p in self.last.keys() - self.gone)
        return {"gone": gone, "alive": alive}
