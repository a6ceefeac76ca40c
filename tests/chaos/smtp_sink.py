"""The chaos harness's SMTP server in a process of its own, like a real one.

In the harness's process (a thread of aiosmtpd), the server shared a GIL and two cores with the load
it was measured under (thousands of signups, the database polling): at a load average of 10 its
answer to a message's final "." took 8 ms at the median and 45 ms at the 90th percentile, most of it
waiting for the GIL. That answer time is part of notify's duplicate window (docs/reliability.md),
so the harness was measuring itself. Here the server only reads, appends each message it takes to a
file (before its 250, so every message taken is counted; nothing deduplicated) and answers.

    python -m tests.chaos.smtp_sink PORT FILE

``SmtpSink`` starts it and reads the file back: ``messages`` as the in-process ``Mailbox`` had them.
"""

import asyncio
import email
import email.policy
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP


class _Append:
    def __init__(self, out) -> None:
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        self.out.write(json.dumps({"to": list(envelope.rcpt_tos), "n": len(content)}).encode() + b"\n" + content)
        self.out.flush()  # the message is counted before the 250
        return "250 Message accepted"


def main(port: int, path: str) -> None:
    out = open(path, "ab", buffering=0)
    loop = asyncio.new_event_loop()
    handler = _Append(out)
    server = loop.run_until_complete(loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True), "127.0.0.1", port))
    try:
        loop.run_forever()
    finally:
        server.close()


class SmtpSink:
    """The server process and what it received (``messages``: ``EmailMessage`` with ``envelope_to``)."""

    def __init__(self, port: int, path: Path) -> None:
        self.port = port
        self.path = path
        self._offset = 0
        self._messages: list = []
        path.write_bytes(b"")
        self.process = subprocess.Popen([sys.executable, "-m", "tests.chaos.smtp_sink", str(port), str(path)])
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the chaos SMTP server did not start")
                time.sleep(0.1)

    @property
    def messages(self) -> list:
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        at = 0
        while (nl := data.find(b"\n", at)) != -1:
            head = json.loads(data[at:nl])
            end = nl + 1 + head["n"]
            if end > len(data):
                break  # being written
            msg = email.message_from_bytes(data[nl + 1:end], policy=email.policy.default)
            msg.envelope_to = head["to"]
            self._messages.append(msg)
            at = end
        self._offset += at
        return self._messages

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
