"""A command run on a pseudo-terminal, and the lines a terminal would show afterwards.

The screen model knows what rich and a log handler write: text, carriage return, line
feed, cursor up/down/left/right, erase in line and erase below; colours and modes are
skipped. Lines scrolled off stay, so the result is the whole scrollback.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence

CSI = re.compile(r"\x1b\[([?0-9;]*)([@-~])")
OSC = re.compile(r"\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
# The terminal's size for the command (columns, rows).
COLUMNS, ROWS = 120, 40


def run_on_tty(argv: Sequence[str], *, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run `argv` with stdin, stdout and stderr on a fresh pty; its exit code and output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    proc = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command and its children closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")


class Screen:
    """Rows of characters and a cursor, as a terminal keeps them."""

    def __init__(self, width: int = COLUMNS) -> None:
        self.width = width
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0

    def put(self, ch: str) -> None:
        if self.col >= self.width:  # a terminal wraps when the next character comes
            self.down()
            self.col = 0
        line = self.rows[self.row]
        line.extend(" " * (self.col + 1 - len(line)))
        line[self.col] = ch
        self.col += 1

    def down(self) -> None:
        self.row += 1
        while len(self.rows) <= self.row:
            self.rows.append([])

    def control(self, params: str, final: str) -> None:
        n = int(params) if params.isdigit() else 0
        if final == "A":
            self.row = max(0, self.row - max(n, 1))
        elif final == "B":
            for _ in range(max(n, 1)):
                self.down()
        elif final == "C":
            self.col += max(n, 1)
        elif final == "D":
            self.col = max(0, self.col - max(n, 1))
        elif final == "G":
            self.col = max(n, 1) - 1
        elif final == "K":
            line = self.rows[self.row]
            if n == 0:
                del line[self.col:]
            elif n == 1:
                line[:self.col] = " " * min(self.col, len(line))
            else:
                line.clear()
        elif final == "J" and n == 0:
            del self.rows[self.row][self.col:]
            del self.rows[self.row + 1:]

    def feed(self, text: str) -> Screen:
        text = OSC.sub("", text)
        at = 0
        while at < len(text):
            ch = text[at]
            found = CSI.match(text, at) if ch == "\x1b" else None
            if found:
                self.control(found.group(1), found.group(2))
                at = found.end()
                continue
            if ch == "\r":
                self.col = 0
            elif ch == "\n":
                self.down()
            elif ch == "\b":
                self.col = max(0, self.col - 1)
            elif ch >= " " and ch != "\x7f":
                self.put(ch)
            at += 1
        return self

    def lines(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.rows]


def screen_lines(output: str, width: int = COLUMNS) -> list[str]:
    return Screen(width).feed(output).lines()
