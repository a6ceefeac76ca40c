"""Test-only fault injection: a process dies (``os._exit(137)``, as a SIGKILL leaves it) at a named
point of its work, with a probability. Inert unless ``CC_FAULT`` is set, e.g.

    CC_FAULT="uow.before_commit:0.02,outbox.after_publish:0.05"

The points (where the outbox's guarantees could break):
- ``uow.before_commit``: a unit of work that wrote events is done, its transaction not yet committed;
- ``uow.after_commit``: it committed, the caller has not heard back, the relay has not published;
- ``outbox.before_publish``: the relay claimed a batch of rows, published none;
- ``outbox.after_publish``: the broker confirmed the batch, its rows are not yet deleted.

The chaos harness (``tests/chaos``) sets it on processes it starts; nothing else should.
"""

import os
import random

_SPEC = os.environ.get("CC_FAULT", "")
_POINTS: dict[str, float] = {}
for _item in filter(None, (part.strip() for part in _SPEC.split(","))):
    _name, _, _probability = _item.partition(":")
    _POINTS[_name] = float(_probability or 1.0)


def crash_point(name: str) -> None:
    """Die here with the configured probability (never, unless ``CC_FAULT`` names this point)."""
    probability = _POINTS.get(name)
    if probability and random.random() < probability:
        os.write(2, f"fault.injected point={name} pid={os.getpid()}\n".encode())
        os._exit(137)
