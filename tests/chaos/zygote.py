"""Quick restarts for the chaos harness: a process per service that has imported the service's code
once and forks a fresh service process on request (gunicorn's "preload", Android's zygote).

Under a crash loop (hundreds of SIGKILLs and restarts), importing the service again each time was
most of a restart (about a second of CPU, several seconds on a loaded machine). A forked process runs
the service's ``__main__`` from the start (settings read from its own environment, new database pool,
new broker connection, its own recovery): only the imports are shared. ``shared.faults`` is read
again in each child (``CC_FAULT`` may differ), and ``random`` reseeded.

Each child is a process the harness started (through the zygote it started): killed by its pid.
The zygote reaps its children and writes each exit code to ``<dir>/<pid>.exit``, which is how
``ForkedProcess.poll`` learns it.

    python -m tests.chaos.zygote SERVICE DIR     # stdin: one JSON {"env", "log"} per line; stdout: the pid
"""

import importlib
import json
import os
import random
import runpy
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from services.system import ROOT, Process, System


class ForkedProcess:
    """The part of ``subprocess.Popen`` the harness uses, for a child of a zygote."""

    def __init__(self, pid: int, exit_dir: Path) -> None:
        self.pid = pid
        self._exit_file = exit_dir / f"{pid}.exit"
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._exit_file.exists():
            text = self._exit_file.read_text().strip()
            if text:
                self.returncode = int(text)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkingSystem(System):
    """``System`` whose services are forked by one zygote per service (started on first use)."""

    def __init__(self, *args, exit_dir: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exit_dir = exit_dir
        exit_dir.mkdir(parents=True, exist_ok=True)
        self.zygotes: dict[str, subprocess.Popen] = {}

    def _zygote(self, service: str) -> subprocess.Popen:
        zygote = self.zygotes.get(service)
        if zygote is None or zygote.poll() is not None:
            zygote = subprocess.Popen(
                [sys.executable, "-m", "tests.chaos.zygote", service, str(self.exit_dir)],
                cwd=ROOT, env=self.service_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                start_new_session=True,
            )
            self.zygotes[service] = zygote
        return zygote

    def _spawn(self, proc: Process, stdout=None, env: dict[str, str] | None = None) -> Process:
        zygote = self._zygote(proc.service or proc.name)
        request = {"env": {**self.service_env(), **(env or {})}, "log": str(proc.log_path or os.devnull)}
        zygote.stdin.write((json.dumps(request) + "\n").encode())
        zygote.stdin.flush()
        line = zygote.stdout.readline()
        if not line:
            raise RuntimeError(f"the zygote of {proc.service or proc.name} exited")
        proc.popen = ForkedProcess(int(line), self.exit_dir)
        self.processes[proc.name] = proc
        return proc

    def stop_zygotes(self) -> None:
        for zygote in self.zygotes.values():
            if zygote.poll() is None:
                zygote.stdin.close()
        for zygote in self.zygotes.values():
            if zygote.poll() is None:
                try:
                    zygote.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    zygote.kill()
                    zygote.wait()


def _child(service: str, request: dict) -> None:
    """In the forked process: become the service, from its ``__main__``; never return."""
    code = 1
    try:
        os.setsid()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        random.seed()
        sys.argv = [sys.argv[0]]  # the service's own command line: no arguments
        import shared.faults

        importlib.reload(shared.faults)  # this child's CC_FAULT
        runpy.run_module(f"services.{service}", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap(exit_dir: Path) -> bool:
    """Write the exit code of every child that ended; → whether any child is still running."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True
        tmp = exit_dir / f"{pid}.exit.tmp"
        tmp.write_text(str(os.waitstatus_to_exitcode(status)))
        tmp.rename(exit_dir / f"{pid}.exit")


def main(service: str, exit_dir: str) -> None:
    importlib.import_module(f"services.{service}.app")
    importlib.import_module(f"services.{service}.settings")
    exits = Path(exit_dir)
    stdin = sys.stdin.buffer
    while True:
        ready, _, _ = select.select([stdin], [], [], 0.05)
        _reap(exits)
        if not ready:
            continue
        line = stdin.readline()
        if not line:
            break
        pid = os.fork()
        if pid == 0:
            _child(service, json.loads(line))
        (exits / f"{pid}.exit").unlink(missing_ok=True)  # an earlier child's, had its pid been reused
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
    deadline = time.monotonic() + 5
    while _reap(exits) and time.monotonic() < deadline:  # the codes of children still stopping
        time.sleep(0.05)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
