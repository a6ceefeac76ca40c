"""Starting the whole system as separate processes: used by ``make run`` and by the tests.

Each service runs as its own process (``python -m services.<name>``); the launcher only spawns them,
waits for ``/readyz``, and stops them with SIGTERM (graceful) or SIGKILL (for fault tests).
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("auth", "membership", "billing", "notify", "sandbox", "gateway")
DEFAULT_PORTS = {"gateway": 8080, "auth": 8081, "membership": 8082, "billing": 8083, "notify": 8084, "sandbox": 8085}


@dataclass
class Process:
    name: str
    port: int
    log_path: Path | None
    popen: subprocess.Popen | None = None
    service: str = ""  # the service it runs (a replica's name differs: "notify-2")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class System:
    """The five processes, on the given ports, with one environment."""

    env: dict[str, str]
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    log_dir: Path | None = None
    processes: dict[str, Process] = field(default_factory=dict)

    def service_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        for name, port in self.ports.items():
            if name == "gateway":
                env["CC_GATEWAY_PORT"] = str(port)
            else:
                env[f"CC_{name.upper()}_PORT"] = str(port)
                env[f"CC_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
        env.setdefault("CC_PUBLIC_URL", f"http://127.0.0.1:{self.ports['gateway']}")
        return env

    def start(self, name: str, stdout=None) -> Process:
        proc = self.processes.get(name) or Process(
            name, self.ports[name], self.log_dir / f"{name}.log" if self.log_dir else None
        )
        return self._spawn(proc, stdout)

    def start_replica(self, service: str, name: str, port: int, stdout=None) -> Process:
        """Another process of ``service`` (e.g. a second notify worker) named ``name``, on its own port,
        with the same environment; ``stop(name)`` stops it, ``stop_all`` too (first)."""
        proc = self.processes.get(name) or Process(
            name, port, self.log_dir / f"{name}.log" if self.log_dir else None, service=service
        )
        return self._spawn(proc, stdout, {f"CC_{service.upper()}_PORT": str(port)})

    def _spawn(self, proc: Process, stdout=None, env: dict[str, str] | None = None) -> Process:
        name = proc.name
        if stdout is None and proc.log_path is not None:
            stdout = open(proc.log_path, "ab")
        proc.popen = subprocess.Popen(
            [sys.executable, "-m", f"services.{proc.service or name}"],
            cwd=ROOT,
            env={**self.service_env(), **(env or {})},
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches the launcher, which stops them in order
        )
        self.processes[name] = proc
        return proc

    def start_all(self, stdout=None) -> None:
        for name in SERVICES:
            self.start(name, stdout=stdout)

    def wait_ready(self, names=None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for name in names or list(self.processes):
            proc = self.processes[name]
            while True:
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.popen.returncode}" + _tail(proc.log_path))
                try:
                    with urllib.request.urlopen(f"{proc.url}/readyz", timeout=2) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after {timeout:.0f}s" + _tail(proc.log_path))
                time.sleep(0.1)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        proc = self.processes.get(name)
        if proc is None or proc.popen is None or proc.popen.poll() is not None:
            return None if proc is None or proc.popen is None else proc.popen.returncode
        proc.popen.send_signal(sig)
        try:
            return proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            return proc.popen.wait()

    def stop_all(self, sig: int = signal.SIGTERM) -> None:
        # Replicas, the gateway (no new requests), then producers before consumers, the processor last.
        replicas = [name for name in self.processes if name not in SERVICES]
        for name in (*replicas, "gateway", "membership", "billing", "auth", "notify", "sandbox"):
            if name in self.processes:
                self.stop(name, sig)


def _tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    return "\n--- last lines of " + str(path) + " ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
