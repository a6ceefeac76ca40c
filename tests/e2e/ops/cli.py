"""Running the operator CLI the way an operator does: a separate process with the CC_* settings."""

import os
import subprocess
import sys
from dataclasses import dataclass

from services.system import ROOT


@dataclass
class Cli:
    env: dict[str, str]

    def __call__(self, *args: str, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env, **extra_env, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        if check:
            assert result.returncode == 0, f"cli {args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result

    async def run_async(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        """The same, without blocking the event loop (for a server that lives in the test)."""
        import asyncio

        env = {**os.environ, **self.env, **extra_env, "PYTHONPATH": str(ROOT)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", *args, cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())
