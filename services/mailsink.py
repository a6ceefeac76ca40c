"""A local SMTP sink for ``make run``: accepts every email and writes it to a folder as a .eml file.

``python -m services.mailsink --port 1025 --dir var/mail``. Prints one line per email (recipient and
subject, never the body: bodies can hold set-password links).
"""

import argparse
import asyncio
import email
import email.policy
import signal
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{self.count:04d}.eml"
        path.write_bytes(envelope.content)
        print(f"mail: to {', '.join(envelope.rcpt_tos)} | {msg['Subject']} | {path}", flush=True)
        return "250 Message accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", default="var/mail")
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(SaveToFolder(folder), hostname=args.host, port=args.port)
    controller.start()
    print(f"mail sink: SMTP on {args.host}:{args.port}, emails saved in {folder.resolve()}", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
