"""A stand-in for the public index, so README's commands run as written, offline.

An HTTPS proxy on 127.0.0.1 (``HTTPS_PROXY``) that answers ``CONNECT pypi.org:443`` and
``CONNECT files.pythonhosted.org:443`` itself, with a certificate for those names signed by a
throw-away CA (trusted through ``SSL_CERT_FILE`` / ``PIP_CERT`` / ``REQUESTS_CA_BUNDLE``), and
serves a PEP 503 simple index of local wheels: ``/simple/<name>/`` pages with ``#sha256=``
links and the files under ``/packages/``. Every other host is refused, so nothing reaches the
network. pip, pipx, uv and reconciler (which passes ``--index-url https://pypi.org/simple`` and
keeps proxy and certificate settings) all see "the index" with the same names and commands.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import select
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import BaseRequestHandler, ThreadingTCPServer

HOSTS = ("pypi.org", "files.pythonhosted.org")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def make_certificates(dest: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for :data:`HOSTS` (openssl); returns (ca, cert, key)."""
    dest.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (
        dest / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem")
    )
    ext = dest / "srv.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=" + ",".join(f"DNS:{h}" for h in HOSTS) + "\n",
        encoding="utf-8",
    )
    openssl = ["openssl"]
    subprocess.run(
        [*openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=reconciler test CA", "-keyout", ca_key, "-out", ca,
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=pypi.org",
         "-keyout", key, "-out", csr],
        check=True,
        capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*openssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "2", "-sha256", "-extfile", ext, "-out", cert],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return ca, cert, key


class StandInIndex:
    """The proxy and index server; use as a context manager. ``env()`` gives the variables
    that point pip, uv and reconciler at it."""

    def __init__(self, wheels: Iterable[Path], workdir: Path) -> None:
        self.files: dict[str, Path] = {}
        self.projects: dict[str, list[Path]] = {}
        for wheel in wheels:
            self.files[wheel.name] = wheel
            self.projects.setdefault(_canonical(wheel.name.split("-")[0]), []).append(wheel)
        self.ca, cert, key = make_certificates(workdir / "certs")
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.requests: list[str] = []
        self.refused: list[str] = []
        self._hashes: dict[str, str] = {}
        index = self

        class Tunnel(BaseRequestHandler):
            def handle(self) -> None:
                index.tunnel(self.request)

        ThreadingTCPServer.allow_reuse_address = True
        ThreadingTCPServer.daemon_threads = True
        self.server = ThreadingTCPServer(("127.0.0.1", 0), Tunnel)
        self.proxy = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandInIndex:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> dict[str, str]:
        ca = str(self.ca)
        return {
            "HTTPS_PROXY": self.proxy,
            "https_proxy": self.proxy,
            "HTTP_PROXY": self.proxy,
            "http_proxy": self.proxy,
            "NO_PROXY": "",
            "no_proxy": "",
            "SSL_CERT_FILE": ca,
            "PIP_CERT": ca,
            "REQUESTS_CA_BUNDLE": ca,
        }

    def _sha256(self, name: str) -> str:
        if name not in self._hashes:
            self._hashes[name] = hashlib.sha256(self.files[name].read_bytes()).hexdigest()
        return self._hashes[name]

    def tunnel(self, conn: socket.socket) -> None:
        """One proxy connection: ``CONNECT`` to an allowed host, then HTTP over our TLS."""
        head = b""
        while b"\r\n\r\n" not in head:
            ready, _, _ = select.select([conn], [], [], 30)
            chunk = conn.recv(4096) if ready else b""
            if not chunk:
                return
            head += chunk
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = [*request_line.split(" "), "", ""][:3]
        host = target.rsplit(":", 1)[0]
        if method != "CONNECT" or host not in HOSTS:
            self.refused.append(request_line)
            conn.sendall(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            secure = self.tls.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.refused.append(f"TLS with {host}: {exc}")
            return
        handler = self._handler_class(host)
        with contextlib.suppress(ssl.SSLError, OSError):  # the client hung up
            handler(secure, ("127.0.0.1", 0), self.server)

    def _handler_class(self, host: str) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                index.requests.append(f"{time.monotonic():.2f} {host} {self.command} {self.path}")

            head_only = False  # per request: one handler serves a whole keep-alive connection

            def do_HEAD(self) -> None:
                self.head_only = True
                try:
                    self._get()
                finally:
                    self.head_only = False

            def do_GET(self) -> None:
                self._get()

            def _get(self) -> None:
                path = self.path.split("?", 1)[0]
                found = re.fullmatch(r"/simple/([^/]+)/?", path)
                if host == "pypi.org" and found:
                    self._page(_canonical(found.group(1)))
                elif (
                    path.startswith("/packages/") and path.removeprefix("/packages/") in index.files
                ):
                    data = index.files[path.removeprefix("/packages/")].read_bytes()
                    self._send(200, "application/octet-stream", data)
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _page(self, project: str) -> None:
                wheels = index.projects.get(project)
                if not wheels:
                    self._send(404, "text/plain", b"not found\n")
                    return
                links = "".join(
                    f'<a href="https://files.pythonhosted.org/packages/{html.escape(w.name)}'
                    f'#sha256={index._sha256(w.name)}">{html.escape(w.name)}</a>\n'
                    for w in sorted(wheels)
                )
                body = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
                self._send(200, "text/html", body)

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not self.head_only:
                    self.wfile.write(body)

        return Handler
