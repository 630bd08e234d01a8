"""A record/replay AWS endpoint for benchmarks: moto's answers, served back at ~zero CPU.

moto parses every request and serialises every answer in Python, so on a small machine the
endpoint competes with the collector for the same cores, which AWS does not. `Recorder` wraps
moto's WSGI app and files each answer under the request that produced it; `ReplayServer`
then answers the same requests with the recorded bytes after sleeping the injected latency,
as a far-away endpoint costs a client wall time but no CPU.

A request is matched on (access key id, region and service from the SigV4 credential scope,
X-Amz-Target, body): the account comes from the access key as moto resolves it, and replayed
AssumeRole answers hand back the recorded keys, so the member accounts' requests match too.
A request never recorded is answered `400 ReplayMiss` (botocore does not retry it) and
counted, so a collector that asks for anything the recorded run did not fails loudly.
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Recorder", "ReplayServer", "request_key"]

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
# Headers the replaying server writes itself (or that describe the recorded connection).
_HOP = frozenset({"content-length", "date", "server", "connection", "transfer-encoding"})

Key = tuple[str, str, str, str, bytes]


def request_key(authorization: str, target: str, body: bytes) -> Key:
    """(access key, region, service, X-Amz-Target, body) of one signed request."""
    scope = _SCOPE.search(authorization or "")
    akid, region, service = scope.groups() if scope else ("", "", "")
    return (akid, region, service, target or "", body)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Recorder:
    """In front of moto's WSGI app: delays each request `delay_s`, files each answer."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.recording = True
        self.answers: dict[Key, tuple[int, list[tuple[str, str]], bytes]] = {}
        self._lock = threading.Lock()

    def handle(
        self, app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """`app`'s answer to one request, recorded unless recording is off."""
        if self.delay_s:
            time.sleep(self.delay_s)  # the round trip to a real endpoint; others go on meanwhile
        if not self.recording:
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        key = request_key(
            environ.get("HTTP_AUTHORIZATION", ""), environ.get("HTTP_X_AMZ_TARGET", ""), body
        )
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = int(status.split()[0]), list(headers)
            return start_response(status, headers, exc_info)

        answer = b"".join(app(environ, capture))
        with self._lock:
            self.answers[key] = (seen["status"], seen["headers"], answer)
        return [answer]


class ReplayServer:
    """HTTP/1.1 server answering recorded requests after `delay_s`; misses are counted."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.delay_s = 0.0
        self.misses = 0
        self.served = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

            def setup(self) -> None:
                super().setup()
                # No Nagle: a small answer must not wait for the client's delayed ACK (40 ms)
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = request_key(
                    self.headers.get("Authorization", ""),
                    self.headers.get("X-Amz-Target", ""),
                    body,
                )
                time.sleep(outer.delay_s)
                found = outer.recorder.answers.get(key)
                if found is None:
                    with lock:
                        outer.misses += 1
                    print(f"replay miss: {key[:4]} {body[:200]!r}", file=sys.stderr, flush=True)
                    status, headers = 400, [("Content-Type", "application/x-amz-json-1.1")]
                    answer = json.dumps(
                        {"__type": "ReplayMiss", "message": "request not recorded"}
                    ).encode()
                else:
                    with lock:
                        outer.served += 1
                    status, headers, answer = found
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in _HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                # headers and body in one write, one segment for a small answer
                self._headers_buffer.append(b"\r\n")
                self.wfile.write(b"".join(self._headers_buffer) + answer)
                self._headers_buffer = []

            do_GET = do_POST  # noqa: N815

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # 16+ walks connect at once: no refused SYN, no 1 s retry

        lock = threading.Lock()
        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
