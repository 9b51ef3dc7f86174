"""Loopback HTTP servers for what promptctl talks to besides a model: a webhook receiver, a
metrics API, a bundle or release.yaml server (with ETags), and a static file server.

Each runs on 127.0.0.1 in a daemon thread, records every request, and stops on `stop()` or
at the end of a `with` block."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

BUNDLE = "release.lock.json"


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


# request -> (status, headers, body)
Responder = Callable[[Request], "tuple[int, dict, bytes]"]


class LoopbackServer:
    """Answers every GET and POST with `respond(request)`; `requests` holds what came in."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:   # keep test output clean
                pass

            def do_GET(self) -> None:   # noqa: N802 - http.server's naming
                owner._answer(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                owner._answer(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _answer(self, h: BaseHTTPRequestHandler, method: str) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        request = Request(method, h.path, dict(h.headers), body)
        self.requests.append(request)
        status, headers, data = self.respond(request)
        h.send_response(status)
        length = {} if status in (204, 304) else {"Content-Length": str(len(data))}
        for key, value in {**length, **headers}.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def webhook_receiver(status: int = 200) -> LoopbackServer:
    """A webhook endpoint answering `status` with no body; read the events from `requests`."""
    return LoopbackServer(lambda request: (status, {}, b""))


def json_api(answer: Callable[[Request], object]) -> LoopbackServer:
    """An API answering each request with `answer(request)` as JSON."""
    return LoopbackServer(lambda request: (200, {"Content-Type": "application/json"},
                                           json.dumps(answer(request)).encode()))


class EtagServer(LoopbackServer):
    """Serves `body` (change it at will) with a content-hash ETag, answering 304 to a
    matching If-None-Match; `hits` counts the 200s and the 304s."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.hits = {"200": 0, "304": 0}
        super().__init__(self._serve)

    def _serve(self, request: Request) -> tuple[int, dict, bytes]:
        etag = '"' + hashlib.sha1(self.body).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:
            self.hits["304"] += 1
            return 304, {}, b""
        self.hits["200"] += 1
        return 200, {"ETag": etag}, self.body


class _Handler(SimpleHTTPRequestHandler):
    mode = {"fault": None}      # None, "hang" (accept, never answer) or "drip" (a byte at a time)

    def do_GET(self):   # noqa: N802 - http.server's naming
        fault = self.mode["fault"]
        if fault == "hang":
            time.sleep(30)
            return
        if fault == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


class StaticServer:
    """http.server's static handler on 127.0.0.1 in a daemon thread: ETag-less, with a
    one-second Last-Modified and If-Modified-Since, like many real static servers."""

    def __init__(self, folder: Path, name: str = BUNDLE) -> None:
        self.folder = folder
        handler = type("H", (_Handler,), {"mode": {"fault": None}})
        self.mode = handler.mode
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/{name}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "StaticServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def free_url() -> str:
    """A loopback URL nothing listens on (a bundle server that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{BUNDLE}"
