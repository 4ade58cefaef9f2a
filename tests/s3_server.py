"""A real S3-compatible server for tests: moto's server mode as a subprocess on 127.0.0.1.

:class:`S3Server` starts ``python -m moto.server`` on a free loopback port, waits until it answers,
and on exit stops it by its pid (SIGTERM, then SIGKILL). :meth:`S3Server.env` gives the standard
variables a client (pyarrow, boto3, a ``vidgen`` subprocess) needs to reach it.

:class:`StallingProxy` is a TCP relay in front of it that stops forwarding request bytes once a
given number has passed: a writer uploading through it is frozen mid-upload, deterministically, so a
test can look at the bucket at that moment and kill the writer there.

    with S3Server() as s3:
        s3.create_bucket("vidgen")
        env = {**os.environ, **s3.env()}
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ACCESS_KEY, SECRET_KEY, REGION = "vidgen-test", "vidgen-test-secret", "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log")  # closed in stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": endpoint or self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def start(self) -> S3Server:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not start listening within 60 s")

    def log_tail(self, n: int = 4000) -> str:
        """The end of the server's log (one line per request): for failure messages."""
        with open(self.log.name, "rb") as f:
            return f.read()[-n:].decode(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class StallingProxy:
    """Relays 127.0.0.1:<port> to ``target_port``; after ``limit`` request bytes (all connections
    together) it stops reading from clients, so their uploads hang mid-way until the proxy is closed."""

    def __init__(self, target_port: int, limit: int):
        self.target_port, self.limit = target_port, limit
        self.forwarded = 0
        self.stalled = threading.Event()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, request: bool) -> None:
        try:
            while not self._closing.is_set():
                if request and self.stalled.is_set():
                    self._closing.wait(0.1)  # hold the client's bytes: its upload hangs here
                    continue
                data = src.recv(65536)
                if not data:
                    break
                if request:
                    with self._lock:
                        room = self.limit - self.forwarded
                        self.forwarded += min(len(data), max(room, 0))
                    if room <= len(data):
                        dst.sendall(data[:max(room, 0)])
                        self.stalled.set()
                        continue
                dst.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self._closing.set()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
