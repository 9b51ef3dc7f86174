"""A loopback HTTP server speaking OpenAI chat-completions and Anthropic Messages.

Used by the eval tests and bench/eval_throughput.py in place of the paid APIs. Each
request takes the next scripted behaviour (or "ok"): ("status", code, headers[, body]),
("sleep", seconds), ("malformed",), and the faults of a broken server: ("drip", seconds
between bytes), ("endless",) a chunked body that never ends, ("huge", bytes) one body of
that size. Each fault stops within FAULT_SECONDS or when the client hangs up. Every
request is recorded with its headers.

`reply(body)` returns the answer's text, or {"text": ..., "tool_calls": [{name, arguments}]}
for a reply that calls tools (see `calls_tool`); replies carry every field the official
SDKs require, so they can be pointed at this server too.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


def default_reply(body: dict) -> str:
    """The last user message, so tests can predict the answer."""
    users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
    return users[-1] if users else ""


def calls_tool(name: str, arguments: Callable[[dict], dict] | dict, text: str = "") -> Callable[[dict], dict]:
    """A reply that calls tool `name` with `arguments` (or arguments computed from the body)."""
    def reply(body: dict) -> dict:
        args = arguments(body) if callable(arguments) else arguments
        return {"text": text, "tool_calls": [{"name": name, "arguments": args}]}
    return reply


def _openai_payload(body: dict, text: str, calls: list[dict]) -> dict:
    message: dict = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                  "function": {"name": c["name"],
                                               "arguments": json.dumps(c["arguments"])}}
                                 for i, c in enumerate(calls)]
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}


def _anthropic_payload(body: dict, text: str, calls: list[dict]) -> dict:
    blocks = [{"type": "text", "text": text}] if text or not calls else []
    blocks += [{"type": "tool_use", "id": f"toolu_{i}", "name": c["name"], "input": c["arguments"]}
               for i, c in enumerate(calls)]
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": body.get("model", ""),
            "content": blocks, "stop_reason": "tool_use" if calls else "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 11, "output_tokens": 7}}


class FakeLLM:
    def __init__(self, reply: Callable[[dict], str | dict] = default_reply, delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.script: list[tuple] = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, each reply waits ~40 ms
            # for a delayed ACK, which would measure the kernel, not promptctl.
            disable_nagle_algorithm = True

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                owner.handle(self)

        class Server(ThreadingHTTPServer):
            request_queue_size = 256   # the default backlog of 5 drops bursts of connections

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeLLM":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length)
        body = json.loads(raw or b"{}")
        with self.lock:
            self.requests.append({"path": h.path, "headers": dict(h.headers), "body": body,
                                  "time": time.monotonic()})
            step = self.script.pop(0) if self.script else ("ok",)
        if self.delay:
            time.sleep(self.delay)
        if step[0] == "sleep":
            time.sleep(step[1])
            step = ("ok",)
        if step[0] == "status":
            body = step[3] if len(step) > 3 else b'{"error": {"message": "scripted"}}'
            self.send(h, step[1], body, step[2] if len(step) > 2 else {})
            return
        if step[0] in ("drip", "endless", "huge"):
            self.fault(h, step)
            return
        if step[0] == "malformed":
            self.send(h, 200, b'{"choices": [ this is not json')
            return
        answer = self.reply(body)
        text, calls = ((answer.get("text") or "", answer.get("tool_calls") or [])
                       if isinstance(answer, dict) else (answer, []))
        anthropic = h.path.split("?", 1)[0].endswith("/messages")
        payload = (_anthropic_payload if anthropic else _openai_payload)(body, text, calls)
        self.send(h, 200, json.dumps(payload).encode())

    FAULT_SECONDS = 10.0

    def fault(self, h: BaseHTTPRequestHandler, step: tuple) -> None:
        stop = time.monotonic() + self.FAULT_SECONDS
        try:
            h.send_response(200)
            h.send_header("content-type", "application/json")
            if step[0] == "endless":
                h.send_header("transfer-encoding", "chunked")
            else:
                h.send_header("content-length", str(step[1] if step[0] == "huge" else 10_000))
            h.end_headers()
            if step[0] == "drip":
                while time.monotonic() < stop:
                    h.wfile.write(b" ")
                    h.wfile.flush()
                    time.sleep(step[1])
            elif step[0] == "endless":
                chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
                while time.monotonic() < stop:
                    h.wfile.write(chunk)
            else:
                block, left = b"x" * 65536, step[1]
                while left > 0 and time.monotonic() < stop:
                    h.wfile.write(block[:left])
                    left -= len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the client gave up, as it should

    @staticmethod
    def send(h: BaseHTTPRequestHandler, code: int, data: bytes, headers: dict | None = None) -> None:
        try:
            h.send_response(code)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(data)))
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the client gave up (a timeout test); nothing to tell it
