"""argon2id hashing off the event loop (the C code releases the GIL, so threads run in parallel)."""

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


HASHING_NICENESS = 10


def _yield_to_the_loop() -> None:
    """Hashing threads run at a lower scheduling priority than the event loop's thread (Linux gives
    each thread its own nice value): when the cores are busy, the loop still answers at once and the
    hashes wait, instead of the loop waiting behind four CPU-bound threads."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class Passwords:
    def __init__(self, settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="argon2", initializer=_yield_to_the_loop)
        # Verified against when the username is unknown, so both paths cost the same.
        self._dummy = self._hasher.hash("not-a-real-password-just-for-timing")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored_hash or self._dummy, password) and stored_hash is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.get_running_loop().run_in_executor(self._pool, check)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
