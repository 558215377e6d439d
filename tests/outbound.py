"""A stand-in for the internet: an HTTPS proxy on loopback that records every request reaching it
and never answers (like a network that drops egress). Processes given `proxy_env()` send their
outbound HTTPS there (httpx, gRPC and ONNX Runtime's uploader all honour these variables), so a
test can assert that nothing left."""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class OutboundRecorder:
    def __init__(self) -> None:
        self.seen: list[str] = []  # first line of each request, e.g. "CONNECT pypi.org:443 HTTP/1.1"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def proxy_env(self) -> dict[str, str]:
        """Environment variables that route outbound HTTPS here; loopback stays direct."""
        env = dict.fromkeys(("HTTPS_PROXY", "https_proxy"), self.url)
        env.update(dict.fromkeys(("NO_PROXY", "no_proxy"), "127.0.0.1,localhost"))
        return env

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.settimeout(2.0)
            try:
                self.seen.append(conn.recv(200).decode("latin-1").split("\r\n", 1)[0])
            except OSError:
                self.seen.append("(a connection, no request)")
            self._held.append(conn)

    def __enter__(self) -> OutboundRecorder:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._listener.close()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
