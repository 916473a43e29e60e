"""Time `tracker notify` rendering and sending to 500 recipients over one SMTP connection.

Starts an aiosmtpd server on 127.0.0.1, makes an example tracker whose three audiences hold
500 recipients in all, and times the whole `tracker notify` process (median of --repeat runs,
`--force` so each run sends). Prints a Markdown table.

    python bench/notify_smtp.py --recipients 500 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    """Counts SMTP sessions, messages and recipients."""

    def __init__(self) -> None:
        self.sessions = 0
        self.messages = 0
        self.recipients = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:  # noqa: N802
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages += 1
        self.recipients += len(envelope.rcpt_tos)
        return "250 OK"


def tracker_cmd() -> list[str]:
    """The tracker console script next to this Python, or `python -m tracker`."""
    script = Path(sys.executable).parent / "tracker"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker"]


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import openpyxl

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        work = Path(tempfile.mkdtemp(prefix="tracker-bench-notify-"))
        env = dict(os.environ, TRACKER_USER="Bench")
        subprocess.run([*tracker_cmd(), "init", "--example"], cwd=work, check=True, capture_output=True, env=env)
        book = openpyxl.load_workbook(work / "events.xlsx")
        ws = book["Distribution"]
        audiences = ["leadership", "technical", "customer"]
        for n in range(args.recipients - 6):
            ws.append([audiences[n % 3], f"Person {n}", f"person{n}@example.com", ("To", "Cc", "Bcc")[n % 3], "Yes"])
        book.save(work / "events.xlsx")
        config = work / "tracker.toml"
        text = config.read_text().replace('transport = "outbox"', 'transport = "smtp"')
        config.write_text(text + f'\n[mail.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n')
        event = subprocess.run(
            [*tracker_cmd(), "list", "--json"], cwd=work, check=True, capture_output=True, text=True, env=env
        )
        event_id = __import__("json").loads(event.stdout)[0]["id"]
        times = []
        for _ in range(args.repeat):
            before = counter.sessions
            start = time.perf_counter()
            subprocess.run(
                [*tracker_cmd(), "notify", event_id, "--force"], cwd=work, check=True, capture_output=True, env=env
            )
            times.append(time.perf_counter() - start)
            assert counter.sessions - before == 1, "expected one SMTP connection per notify"
    finally:
        controller.stop()
    per_run = counter.recipients // args.repeat
    print("| what | figure |")
    print("|---|---|")
    print(f"| recipients per notify (3 messages, one SMTP connection) | {per_run} |")
    print(f"| `tracker notify` wall time, median of {args.repeat} | {statistics.median(times):.2f} s |")
    print(f"| fastest / slowest | {min(times):.2f} s / {max(times):.2f} s |")


if __name__ == "__main__":
    main()
