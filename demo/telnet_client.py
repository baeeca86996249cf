"""A tiny telnet client for talking to an Evennia game in tests and demos.

Refuses every option the server offers (so no compression or negotiation
gets in the way) and returns plain text with ANSI colour codes stripped.
"""

from __future__ import annotations

import re
import socket
import time

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class TelnetSession:
    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(0.2)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> TelnetSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send_line(self, text: str) -> None:
        self.sock.sendall(text.encode("utf-8") + b"\r\n")

    def _filter(self, data: bytes) -> bytes:
        out, i, replies = bytearray(), 0, bytearray()
        while i < len(data):
            byte = data[i]
            if byte != IAC:
                out.append(byte)
                i += 1
                continue
            cmd = data[i + 1] if i + 1 < len(data) else None
            if cmd in (WILL, WONT, DO, DONT) and i + 2 < len(data):
                opt = data[i + 2]
                if cmd == WILL:
                    replies += bytes([IAC, DONT, opt])
                elif cmd == DO:
                    replies += bytes([IAC, WONT, opt])
                i += 3
            elif cmd == SB:
                end = data.find(bytes([IAC, SE]), i)
                i = len(data) if end < 0 else end + 2
            else:
                i += 2
        if replies:
            self.sock.sendall(bytes(replies))
        return bytes(out)

    def read_until(self, pattern: str, timeout: float = 15.0) -> str:
        """Read until ``pattern`` (a regex) appears; returns all text read."""
        deadline = time.monotonic() + timeout
        buf = ""
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                chunk = b""
            if chunk == b"" and not self._alive():
                break
            buf += _ANSI.sub("", self._filter(chunk).decode("utf-8", "replace"))
            if regex.search(buf):
                return buf
        raise TimeoutError(f"no {pattern!r} within {timeout}s; got:\n{buf[-2000:]}")

    def _alive(self) -> bool:
        try:
            self.sock.setblocking(False)
            data = self.sock.recv(1, socket.MSG_PEEK)
            return data != b""
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            self.sock.settimeout(0.2)

    def login(self, user: str, password: str) -> str:
        self.read_until(r"(?i)connect", timeout=20)
        self.send_line(f"connect {user} {password}")
        return self.read_until(r"(?i)(you become|welcome|logged in|limbo)", timeout=20)

    def command(self, text: str, until: str, timeout: float = 20.0) -> str:
        self.send_line(text)
        return self.read_until(until, timeout=timeout)
