"""The chaos harness: a PostgreSQL cluster, a RabbitMQ node and the six services of its OWN, which it
may kill and restart by pid; a TCP proxy that drops responses; and the Jepsen-style tally.

The machine's shared PostgreSQL (5432) and RabbitMQ (5672) are never touched: every process this
harness signals is one it started (``Popen.pid``, or the postmaster whose pid ``pg_ctl`` reports for
the cluster this harness created). Used by the short tests (``tests/chaos``) and by ``make chaos``.
"""

import asyncio
import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from services.cli import migrate_all, seed_demo
from services.system import SERVICES
from shared.sealing import new_key_entry
from tests.chaos.zygote import ForkingSystem

PG_BIN = Path(os.environ.get("CC_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBITMQ_SERVER = os.environ.get("CC_RABBITMQ_SERVER", "/usr/lib/rabbitmq/bin/rabbitmq-server")
ADMIN_KEY = "cc_chaos_admin_key_" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PrivatePostgres:
    """A throwaway cluster (trust auth, fsync off) in a temp dir, on a free port."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "pg"
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/customer_center"
        subprocess.run(
            [*_as_postgres(), str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True, stdout=subprocess.DEVNULL,
        )

    def _ctl(self, *args: str) -> None:
        subprocess.run([*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args], check=True,
                       stdout=subprocess.DEVNULL)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c max_connections=300")
        self._ctl("-o", options, "-l", str(self.dir / "log"), "-w", "-t", "60", "start")

    @property
    def pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (clients cut off, clean shutdown) or ``immediate`` (as a crash: recovery on start)."""
        self._ctl("-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down_seconds: float = 1.0, mode: str = "immediate") -> None:
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()


class PrivateRabbit:
    """A RabbitMQ node of its own (node name, ports, data dir, cookie), no plugins."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "rabbit"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.dist_port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "HOME": str(self.dir),  # its own Erlang cookie
            "RABBITMQ_NODENAME": f"cc-chaos-{uuid.uuid4().hex[:8]}@localhost",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
        }
        self.popen: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.popen = subprocess.Popen(
            [RABBITMQ_SERVER], env=self.env, stdout=open(self.dir / "out.log", "ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.popen.poll() is not None:
                raise RuntimeError(f"rabbitmq exited {self.popen.returncode}: see {self.dir / 'out.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError("rabbitmq did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to the node this harness started (its wrapper stops the Erlang VM), then wait."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)  # its own session: only the node's processes
            self.popen.wait()
        deadline = time.monotonic() + 30
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


class DropProxy:
    """A TCP proxy that, with probability ``drop``, closes the client's connection when the upstream's
    answer arrives instead of passing it on: the request happened, its response is lost."""

    def __init__(self, upstream_port: int, drop: float = 0.0, seed: int | None = None, drop_first: int = 0) -> None:
        self.upstream_port = upstream_port
        self.drop = drop
        self.drop_first = drop_first  # the first so many answers are lost, whatever ``drop`` says
        self.random = random.Random(seed)
        self.dropped = 0
        self.requests = 0
        self.port = 0
        self.server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return

        async def upstream_to_client():
            while data := await up_r.read(65536):
                if self.dropped < self.drop_first or self.random.random() < self.drop:
                    self.dropped += 1
                    client_w.transport.abort()
                    up_w.transport.abort()
                    return
                client_w.write(data)
                await client_w.drain()

        async def client_to_upstream():
            while data := await client_r.read(65536):
                self.requests += data.count(b" HTTP/1.1\r\n")
                up_w.write(data)
                await up_w.drain()

        tasks = [asyncio.create_task(upstream_to_client()), asyncio.create_task(client_to_upstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            for w in (client_w, up_w):
                w.transport.abort()


@dataclass
class Outcome:
    """One scenario's tally, counted the way Jepsen does."""

    scenario: str
    operations: int
    lost: int  # acknowledged, never applied
    duplicated: int  # applied more than once
    blank: int  # applied wrongly (a blank merge field, state without its event, ...)
    seconds: float
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.blank == 0


def table(outcomes: list[Outcome]) -> str:
    head = ("scenario", "operations", "lost", "duplicated", "blank", "time")
    rows = [(o.scenario, f"{o.operations:,}", str(o.lost), str(o.duplicated), str(o.blank), f"{o.seconds:.0f} s")
            for o in outcomes]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


class ChaosSystem:
    """Private PostgreSQL + RabbitMQ, the database migrated and seeded, the six services on them."""

    def __init__(self, smtp_port: int, env: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cc-chaos-"))
        self.pg = PrivatePostgres(self.root)
        self.rabbit = PrivateRabbit(self.root)
        self.smtp_port = smtp_port
        self.extra_env = env or {}
        self.system: ForkingSystem | None = None
        self.log_dir = self.root / "logs"
        self.log_dir.mkdir()

    @property
    def database_url(self) -> str:
        return self.pg.url

    async def start(self) -> None:
        await asyncio.to_thread(self.rabbit.start)
        await asyncio.to_thread(self.pg.start)
        with contextlib.redirect_stdout(sys.stderr):  # the table is the run's stdout
            await migrate_all(self.pg.url)
            await seed_demo(self.pg.url, ADMIN_KEY)
        env = {
            "CC_DATABASE_URL": self.pg.url,
            "CC_AMQP_URL": self.rabbit.url,
            "CC_BUS_PREFIX": "chaos.",
            "CC_SMTP_HOST": "127.0.0.1",
            "CC_SMTP_PORT": str(self.smtp_port),
            "CC_LOG_FORMAT": "json",
            "CC_LINK_KEYS": new_key_entry("run"),
            "CC_DELIVERY_BACKOFF_SECONDS": "0.2",
            "CC_OUTBOX_POLL_SECONDS": "0.5",
            "CC_BILLING_RUN_INTERVAL_SECONDS": "0",
            "CC_REDELIVERY_BACKOFF_SECONDS": "0.05",
            "CC_MIGRATE_ON_START": "false",  # migrated above: a restart is quicker
            **self.extra_env,
        }
        # Forked from a zygote per service: a restart does not import the service again (zygote.py).
        self.system = ForkingSystem(env=env, ports={name: free_port() for name in SERVICES}, log_dir=self.log_dir,
                                    exit_dir=self.root / "exits")
        self.system.start_all()
        await asyncio.to_thread(self.system.wait_ready, None, 90)

    def url(self, name: str) -> str:
        return self.system.processes[name].url

    def kill(self, name: str) -> None:
        """SIGKILL the service process this harness started, by its pid."""
        self.system.stop(name, signal.SIGKILL)

    def restart(self, name: str) -> None:
        self.system.start(name)

    async def stop(self) -> None:
        if self.system is not None:
            await asyncio.to_thread(self.system.stop_all)
            await asyncio.to_thread(self.system.stop_zygotes)
        await asyncio.to_thread(self.rabbit.stop)
        try:
            await asyncio.to_thread(self.pg.stop, "immediate")
        except subprocess.CalledProcessError:
            pass
        if not os.environ.get("CC_CHAOS_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)
