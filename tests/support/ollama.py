"""A real HTTP server on 127.0.0.1 that speaks Ollama's wire format, for tests (Ollama itself cannot run here).

It answers `GET /api/tags` and `POST /api/chat` (streamed NDJSON chunks, or one JSON object when "stream": false)
with response envelopes as Ollama's API documentation (docs/api.md) shows them (`TAG`, `CHUNK`, `DONE` below; not
captured from a live server, none can run here); the assistant's text comes from a `judge` callback
that sees the file names in the prompt, like a model would. `modes` is a queue of behaviours for the next chat
requests: "ok", "slow" (sleeps past the client's timeout), "500", "drop" (closes the connection without a reply),
"stream_drop" (two chunks, then closes), "garbage" (not JSON), "wrong_keys", "hallucinate" (names a photo it was
not shown). Every request is recorded in `requests` (path, parsed body).
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

MODELS = ["llava:latest", "moondream:latest"]

# The documented shapes of `GET /api/tags` entries and `POST /api/chat` chunks; only the contents vary.
TAG = {"name": "llava:latest", "model": "llava:latest", "modified_at": "2024-12-02T10:21:03.614627+01:00",
                "size": 4733363377, "digest": "8dd30f6b0cb19f555f2c7a7ebda861449ea2cc76bf1f44e262931f45fc81d081",
                "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama", "clip"],
                            "parameter_size": "7B", "quantization_level": "Q4_0"}}
CHUNK = {"model": "llava", "created_at": "2024-12-02T10:25:41.186385Z",
                  "message": {"role": "assistant", "content": ""}, "done": False}
DONE = {"model": "llava", "created_at": "2024-12-02T10:25:44.941187Z",
                 "message": {"role": "assistant", "content": ""}, "done_reason": "stop", "done": True,
                 "total_duration": 3921374625, "load_duration": 12503958, "prompt_eval_count": 1214,
                 "prompt_eval_duration": 2741000000, "eval_count": 96, "eval_duration": 1165000000}

Judge = Callable[[list[str]], dict[str, Any]]


def names_in(prompt: str) -> list[str]:
    """The file names the client listed ("... in this order: a.jpg, b.jpg.")."""
    m = re.search(r"in this order: (.*?)\.\n", prompt)
    return [n.strip() for n in m.group(1).split(", ")] if m else []


def same_event_judge(names: list[str]) -> dict[str, Any]:
    """A model that finds nothing odd."""
    return {"photos": [{"file": n, "indoor": False, "time_of_day": "day", "subject": "people", "scene": "a park"}
                       for n in names],
            "same_event": True, "confidence": 0.9, "outliers": [], "reason": "same park, same light"}


def prefix_judge(odd_prefix: str | tuple[str, ...]) -> Judge:
    """A model that sees photos whose names start with `odd_prefix` (one or several) as another event."""
    def judge(names: list[str]) -> dict[str, Any]:
        odd = [n for n in names if n.startswith(odd_prefix)]
        answer = same_event_judge(names)
        for p in answer["photos"]:
            if p["file"] in odd:
                p.update(indoor=True, subject="dinner table", scene="a dim restaurant")
        if odd and len(odd) < len(names):
            answer.update(same_event=False, confidence=0.8, outliers=odd, reason="beach and restaurant")
        return answer
    return judge


class FakeOllama:
    """Start with `with FakeOllama() as server:`; `server.url` is its base URL."""

    def __init__(self, judge: Judge = same_event_judge, models: list[str] | None = None, slow_s: float = 2.0) -> None:
        self.judge = judge
        self.models = MODELS if models is None else models
        self.slow_s = slow_s
        self.modes: deque[str] = deque()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def chats(self) -> list[dict[str, Any]]:
        return [body for path, body in self.requests if path == "/api/chat"]

    def __enter__(self) -> "FakeOllama":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _next_mode(self) -> str:
        with self._lock:
            return self.modes.popleft() if self.modes else "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _json(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append((self.path, {}))
                if self.path == "/api/tags":
                    self._json(200, {"models": [{**TAG, "name": n, "model": n} for n in server.models]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append((self.path, body))
                if self.path != "/api/chat":
                    self._json(404, {"error": "not found"})
                    return
                model = body.get("model", "")
                if model not in server.models and f"{model}:latest" not in server.models:
                    self._json(404, {"error": f'model "{model}" not found, try pulling it first'})
                    return
                mode = server._next_mode()
                names = names_in(body["messages"][-1]["content"])
                if mode == "slow":
                    time.sleep(server.slow_s)
                    mode = "ok"
                if mode == "500":
                    self._json(500, {"error": "llama runner process has terminated: signal: killed"})
                    return
                if mode == "drop":
                    self._drop()
                    return
                content = {
                    "garbage": lambda: "Sure! These photos look like a lovely day at the beach :)",
                    "wrong_keys": lambda: json.dumps({"answer": "yes", "photos": "all of them"}),
                    "hallucinate": lambda: json.dumps({**server.judge(names), "same_event": True,
                                                       "outliers": ["IMG_9999.JPG"]}),
                }.get(mode, lambda: json.dumps(server.judge(names)))()
                if body.get("stream", True):
                    self._stream(content, drop=mode == "stream_drop")
                else:
                    done = {**DONE, "model": model, "message": {"role": "assistant", "content": content}}
                    self._json(200, done)

            def _stream(self, content: str, drop: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                pieces = [content[i:i + 16] for i in range(0, len(content), 16)]
                for k, piece in enumerate(pieces):
                    if drop and k == 2:
                        self.wfile.flush()
                        self._drop()
                        return
                    self._chunk({**CHUNK, "message": {"role": "assistant", "content": piece}})
                self._chunk(DONE)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _chunk(self, obj: dict[str, Any]) -> None:
                line = json.dumps(obj).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")

        return Handler
