"""``make run``: the whole system in the foreground, until Ctrl-C.

Migrates the database, seeds the demo site, starts a local SMTP sink (unless ``CC_SMTP_HOST`` is set),
starts every service with its logs on this terminal, waits until they are ready and prints how to use
it. Ctrl-C (or SIGTERM) stops everything; a service that dies stops everything with exit code 1.
"""

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import asyncpg

from services import cli
from services.system import DEFAULT_PORTS, ROOT, System
from shared.sealing import LinkKeyError, LinkKeys, new_key_entry

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/customer_center"
MAIL_DIR = ROOT / "var" / "mail"
LINK_KEYS_FILE = ROOT / "var" / "link-keys"


class Failure(Exception):
    """Something a person must fix: the message says what."""


def port_variable(name: str) -> str:
    return f"CC_{name.upper()}_PORT"


def read_ports() -> dict[str, int]:
    ports = {}
    for name, default in DEFAULT_PORTS.items():
        value = os.environ.get(port_variable(name)) or str(default)
        if not value.isdigit():
            raise Failure(f"{port_variable(name)}={value!r} is not a port number")
        ports[name] = int(value)
    return ports


def check_port_free(host: str, port: int, variable: str, what: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise Failure(
                f"port {port} ({what}) is already in use on {host}: {exc.strerror}.\n"
                f"Stop whatever listens there (is another `make run` still running?) "
                f"or choose another port, e.g. {variable}={port + 10} make run"
            ) from None


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"the mail sink exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise Failure(f"the mail sink is not listening on port {port} after {timeout:.0f}s")


async def prepare_database(database_url: str) -> tuple[str, tuple[str, str | None]]:
    """Migrations, the demo site; → (its admin API key, (the demo owner's email, its password when generated)))."""
    await cli.migrate_all(database_url)
    key = await cli.seed_demo(database_url, os.environ.get("CC_DEMO_ADMIN_KEY") or None)
    return key, await demo_staff(database_url)


async def demo_staff(database_url: str) -> tuple[str, str | None]:
    """``CC_DEMO_STAFF_EMAIL`` and ``CC_DEMO_STAFF_PASSWORD`` become the demo site's owner for /admin.
    With neither set, the owner is ``owner@example.com`` with a password generated now (as the admin
    key is), shown in the banner only. → (email, the generated password or None)."""
    from services.auth.domain import AuthError
    from services.ops.staff import create_staff

    email, password = os.environ.get("CC_DEMO_STAFF_EMAIL"), os.environ.get("CC_DEMO_STAFF_PASSWORD")
    generated = None
    if not email and not password:
        email, password = "owner@example.com", secrets.token_urlsafe(12)
        generated = password
    if not (email and password):
        raise Failure("set both CC_DEMO_STAFF_EMAIL and CC_DEMO_STAFF_PASSWORD for the demo staff account")
    try:
        row, _ = await create_staff(database_url, site_slug="demo", email=email, role="owner", password=password)
    except AuthError as exc:
        raise Failure(f"the demo staff account was refused: {exc.message}") from None
    return row["email"], generated


def banner(url: str, key: str, mail: str, staff: tuple[str, str | None]) -> str:
    staff_email, generated = staff
    register = (
        f"curl -s -X POST {url}/api/register -H 'Content-Type: application/json' "
        """-d '{"site": "demo", "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}'"""
    )
    lines = [
        "Customer Center is running. Ctrl-C stops it.",
        "",
        f"  Open:          {url}",
        "  Demo site:     demo",
        f"  Admin API key: {key}   (header X-Api-Key)",
        f"  Emails:        {mail}",
        f"  Admin console: {url}/admin/login?site=demo",
        f"                 as {staff_email}, password "
        + (f"{generated}   (generated now; CC_DEMO_STAFF_EMAIL and CC_DEMO_STAFF_PASSWORD choose your own)"
           if generated else "CC_DEMO_STAFF_PASSWORD"),
        "",
        "  Register a contact on the demo site (the welcome email follows):",
        f"    {register}",
    ]
    rule = "=" * 78
    return "\n".join(["", rule, *lines, rule, ""])


def demo_link_keys() -> str:
    """``CC_LINK_KEYS`` when set; otherwise the demo's own, made on the first run and kept (owner-only)
    in var/link-keys, so a link sealed in an event still queued from the previous run opens."""
    if os.environ.get("CC_LINK_KEYS", "").strip():
        return os.environ["CC_LINK_KEYS"]
    if LINK_KEYS_FILE.exists():
        return LINK_KEYS_FILE.read_text().strip()
    LINK_KEYS_FILE.parent.mkdir(parents=True, exist_ok=True)
    value = new_key_entry("demo")
    fd = os.open(LINK_KEYS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # SIGTERM stops it the way Ctrl-C does; SIGINT too, even when started in the background (where a
    # shell hands it down ignored).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, raise_keyboard_interrupt)
    parent = os.getppid()
    database_url = os.environ.get("CC_DATABASE_URL") or DEFAULT_DATABASE_URL
    gateway_host = os.environ.get("CC_GATEWAY_HOST") or "127.0.0.1"
    env = {"CC_LOG_FORMAT": os.environ.get("CC_LOG_FORMAT") or "console"}
    system: System | None = None
    sink: subprocess.Popen | None = None
    status = 0
    try:
        ports = read_ports()
        for name, port in ports.items():
            check_port_free(gateway_host if name == "gateway" else "127.0.0.1", port, port_variable(name), name)
        smtp_host = os.environ.get("CC_SMTP_HOST")
        smtp_port = os.environ.get("CC_SMTP_PORT") or "1025"
        if not smtp_host:
            check_port_free("127.0.0.1", int(smtp_port), "CC_SMTP_PORT", "the local mail sink")

        try:
            env["CC_LINK_KEYS"] = demo_link_keys()  # auth seals the links in events with it, notify opens them
            LinkKeys.parse(env["CC_LINK_KEYS"])
        except (LinkKeyError, OSError) as exc:
            raise Failure(f"the link keys: {exc} (set CC_LINK_KEYS, or delete {LINK_KEYS_FILE} to make a new one)") from None
        try:
            key, staff = asyncio.run(prepare_database(database_url))
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise Failure(
                f"preparing the database failed: {type(exc).__name__}: {exc}\n"
                "Is PostgreSQL running (scripts/ensure-infra.sh checks it), and is CC_DATABASE_URL right?"
            ) from None

        if smtp_host:
            mail = f"sent through the SMTP server {smtp_host}:{smtp_port}"
        else:
            MAIL_DIR.mkdir(parents=True, exist_ok=True)
            sink = subprocess.Popen(
                [sys.executable, "-m", "services.mailsink", "--port", smtp_port, "--dir", str(MAIL_DIR)],
                cwd=ROOT,
                start_new_session=True,  # stopped by us, after the services
            )
            wait_for_port(int(smtp_port), sink)
            env.update(CC_SMTP_HOST="127.0.0.1", CC_SMTP_PORT=smtp_port)
            mail = f"saved as .eml files in {MAIL_DIR}"

        system = System(env=env, ports=ports, log_dir=None)
        system.start_all()  # stdout None, no log_dir: their logs stream to this terminal
        try:
            system.wait_ready(timeout=60)
        except (RuntimeError, TimeoutError) as exc:
            raise Failure(f"the system did not start: {exc} (its log is above)") from None

        shown_host = "127.0.0.1" if gateway_host in ("0.0.0.0", "::", "") else gateway_host
        print(banner(f"http://{shown_host}:{ports['gateway']}", key, mail, staff), flush=True)

        while True:
            for name, proc in system.processes.items():
                if proc.popen.poll() is not None:
                    raise Failure(f"{name} exited unexpectedly with code {proc.popen.returncode}; stopping everything")
            if sink is not None and sink.poll() is not None:
                raise Failure(f"the mail sink exited unexpectedly with code {sink.returncode}; stopping everything")
            if os.getppid() != parent:
                # make was stopped alone (a signal to make's pid rather than the terminal's Ctrl-C)
                raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    except Failure as exc:
        print(f"\nmake run: {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not leave processes behind
        if system is not None:
            system.stop_all()
        if sink is not None and sink.poll() is None:
            sink.terminate()
            try:
                sink.wait(timeout=10)
            except subprocess.TimeoutExpired:
                sink.kill()
    if status == 0:
        print("stopped.", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
