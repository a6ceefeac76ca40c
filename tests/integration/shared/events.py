"""Event types that exist only for the tests of the shared bus code."""

from shared.events import Event


class Pinged(Event):
    routing_key = "test.pinged"
    version = 1
    n: int


class Unheard(Event):
    """Nobody binds a queue to this one."""

    routing_key = "test.unheard"
    version = 1
    n: int
