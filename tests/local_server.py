"""A throwaway HTTP server on 127.0.0.1 whose routes the tests define."""

import io
import tarfile
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append((self.path, dict(self.headers)))
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def send_bytes(handler, body: bytes, content_type="application/octet-stream", ranges=True):
    """Send body with HTTP Range support."""
    start = 0
    header = handler.headers.get("Range")
    if ranges and header and header.startswith("bytes="):
        start = int(header[6:].split("-")[0])
        if start >= len(body):
            handler.send_response(416)
            handler.end_headers()
            return
        handler.send_response(206)
        handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
    else:
        handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body) - start))
    handler.end_headers()
    handler.wfile.write(body[start:])


@contextmanager
def serve(routes):
    """Yield (base URL, list of (path, headers) requests seen) while serving routes in a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.routes, server.requests = routes, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.requests
    finally:
        server.shutdown()
        server.server_close()


def dropping_once(body: bytes, ranges: list):
    """A route that promises all of body, sends half and drops the connection once, then serves it.

    Each request's Range header is appended to `ranges`, so a test can see the resume.
    """

    def route(handler):
        ranges.append(handler.headers.get("Range"))
        if len(ranges) == 1:
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.connection.shutdown(2)
            return
        send_bytes(handler, body)

    return route


def tar_bytes(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar archive of {path: content}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def redirect_to_itself(handler):
    """A route that answers every request with a redirect to itself (as pjreddie.com did)."""
    handler.send_response(302)
    handler.send_header("Location", handler.path)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def answering(status: int):
    """A route that answers with an HTTP status and no file (403: a host that refuses)."""

    def route(handler):
        handler.send_error(status)

    return route


def never_answering(released):
    """A route that accepts the request and sends nothing until the threading.Event is set."""

    def route(handler):
        released.wait(10)

    return route
