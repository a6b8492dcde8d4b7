"""Real local channels for the notification tests: an SMTP server (aiosmtpd, with login) and a webhook receiver."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

SMTP_USER = "jxk-robot"
SMTP_PASSWORD = "S3cr#t:pa55/word"  # characters that need quoting in a URL


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different ports nobody listens on: bound together, then released (one at a time, the system may
    give the same port twice)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


@dataclass
class SmtpServer:
    host: str
    port: int
    mails: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)  # every password a client tried, right or wrong

    def take(self) -> list[Mail]:
        taken, self.mails[:] = list(self.mails), []
        return taken


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 at a free port; it accepts only SMTP_USER / SMTP_PASSWORD."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server = SmtpServer("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            message = message_from_bytes(envelope.original_content or envelope.content, policy=email_policy.default)
            server.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
            return "250 OK"

    def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            server.passwords.append(data.password.decode())
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        if ok:
            server.logins.append(SMTP_USER)
        return AuthResult(success=ok)

    controller = Controller(
        Handler(),
        hostname=server.host,
        port=server.port,
        authenticator=authenticate,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class Hook:
    path: str
    query: dict[str, list[str]]
    payload: dict[str, Any]


@dataclass
class WebhookServer:
    port: int
    hooks: list[Hook] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def take(self) -> list[Hook]:
        taken, self.hooks[:] = list(self.hooks), []
        return taken


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    """A JSON webhook receiver (http.server in a thread) on 127.0.0.1."""
    received: list[Hook] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            received.append(Hook(parts.path, parse_qs(parts.query), json.loads(body or b"{}")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode":0}')

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebhookServer(int(httpd.server_address[1]), received)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def rejecting_webhook_server() -> Iterator[WebhookServer]:
    """A webhook endpoint that answers 500 and echoes the request line back, token and all (a careless gateway)."""
    received: list[Hook] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            received.append(Hook(parts.path, parse_qs(parts.query), json.loads(body or b"{}")))
            echo = json.dumps({"errcode": 500, "errmsg": f"upstream error for POST {self.path}"}).encode()
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(echo)))
            self.end_headers()
            self.wfile.write(echo)

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebhookServer(int(httpd.server_address[1]), received)
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


@pytest.fixture
def all_logs() -> Iterator[list[str]]:
    """Every log line (apprise, perfcycle and the SMTP server at DEBUG), with or without pytest's logging plugin."""
    collector = _Collector()
    hosts = [logging.getLogger(), logging.getLogger("prefect")]  # prefect's loggers do not propagate to root
    chatty = [logging.getLogger(name) for name in ("apprise", "perfcycle", "mail.log")]
    levels = [lg.level for lg in chatty]
    for lg in chatty:
        lg.setLevel(logging.DEBUG)
    for lg in hosts:
        lg.addHandler(collector)
    try:
        yield collector.lines
    finally:
        for lg in hosts:
            lg.removeHandler(collector)
        for lg, level in zip(chatty, levels, strict=True):
            lg.setLevel(level)
