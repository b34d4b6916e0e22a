"""Route cross-endpoint calls between the endpoints of a local preview.

When a function of one endpoint awaits a function of another queue endpoint,
``runpod_flash`` (1.21) sends the call to its "sentinel":
``POST {RUNPOD_ENDPOINT_BASE_URL}/flash/runsync`` with the body
``{"input": {...keyword arguments...}}`` and the target named in the
``X-Flash-Endpoint`` header; on RunPod the platform resolves the header to
the deployed endpoint. The preview points ``RUNPOD_ENDPOINT_BASE_URL`` of
every endpoint process at this router, which forwards the call to the target
endpoint's local ``/runsync`` and relays the answer unchanged, so a preview
never calls RunPod.

Only queue endpoints are routed. The SDK calls load-balanced endpoints at
``https://flash.<endpoint domain>/path``, an HTTPS address derived from the
same variable that no local process answers: such calls fail instead of
reaching a deployed app.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTINEL_PATH = "/v2/flash/runsync"
ENDPOINT_HEADER = "X-Flash-Endpoint"
FORWARD_TIMEOUT = 3600.0  # seconds; the calling SDK applies its own, shorter timeout
# Every preview request stays on this machine, whatever proxy the environment names.
LOCAL_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class CallRouter:
    """A small HTTP server on ``host`` (any free port) that forwards sentinel calls."""

    def __init__(self, targets: Mapping[str, str], *, host: str = "127.0.0.1") -> None:
        # endpoint name -> base URL of its local queue server
        self.targets = dict(targets)
        self._server = ThreadingHTTPServer((host, 0), _handler_class(self.targets))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="flash-preview-router", daemon=True
        )

    @property
    def base_url(self) -> str:
        """The value of ``RUNPOD_ENDPOINT_BASE_URL`` that sends calls here."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v2"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


def _handler_class(targets: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    class SentinelHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != SENTINEL_PATH:
                self._answer(404, {"error": f"no such route: POST {self.path}"})
                return
            name = self.headers.get(ENDPOINT_HEADER, "")
            target = targets.get(name)
            if target is None:
                known = ", ".join(sorted(targets)) or "none"
                self._answer(404, {"error": f"{name!r} is not a queue endpoint of this "
                                            f"preview (queue endpoints: {known})"})
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = urllib.request.Request(
                f"{target}/runsync", data=body, method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                with LOCAL_HTTP.open(request, timeout=FORWARD_TIMEOUT) as response:
                    self._relay(response.status, response.read())
            except urllib.error.HTTPError as exc:
                self._relay(exc.code, exc.read())
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                self._answer(502, {"error": f"endpoint {name!r} did not answer: {reason}"})

        def _answer(self, status: int, document: dict) -> None:
            self._relay(status, json.dumps(document).encode())

        def _relay(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the preview's output is the endpoints' own logs."""

    return SentinelHandler
