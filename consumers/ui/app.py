"""`ol ui`'s HTTP side: a Starlette app with a JSON API and the page that calls it.

Every response is read-only over the store. Bad parameters are HTTP 400 with ``{"error": "…"}``
(one line); static files come from a fixed list inside the package, so no URL reaches any other
file. The API (documented in docs/guides/dashboard.md) is usable on its own with curl.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
from importlib import resources
from pathlib import Path

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ol.consumers.ui import api, saved, sweeps
from ol.consumers.ui.access import LOOPBACK_NAMES, Guard, new_token, refused_write
from ol.consumers.ui.client import CLIENT, Client
from ol.consumers.ui.compare import compare
from ol.consumers.ui.data import BadRequest
from ol.consumers.ui.export import export_html
from ol.consumers.ui.media import media, media_index
from ol.errors import OlError
from ol.store import StoreError

STATIC = {  # name -> content type: the only files the server ever sends
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "svg.js": "text/javascript; charset=utf-8",
    "run-page.js": "text/javascript; charset=utf-8",
    "workspace.js": "text/javascript; charset=utf-8",
    "panels.js": "text/javascript; charset=utf-8",
    "compare.js": "text/javascript; charset=utf-8",
    "hparams.js": "text/javascript; charset=utf-8",
    "media.js": "text/javascript; charset=utf-8",
    "sweep-page.js": "text/javascript; charset=utf-8",
    "saved.js": "text/javascript; charset=utf-8",
    "labels.js": "text/javascript; charset=utf-8",
    "offline.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
LIVE_INTERVAL = 0.1  # seconds between looks at the live runs' log tails
HEARTBEAT = 10.0
DISCONNECT_POLL = 0.25  # seconds between looks, during a long answer, at whether its client is still there
# What the page may run and load: its own scripts only, so markup that ever reached the page unescaped could not
# run script (no inline handlers, no other origin); images from its own API and the data URLs it makes.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
          "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
MAX_BODY = 128 * 1024  # the largest request body read (a workspace's view is at most 64 KiB)
BODY_TIMEOUT = 10.0  # seconds a client has to send a request's body
_json = msgspec.json.Encoder()


def json_response(data, status: int = 200) -> Response:
    return Response(_json.encode(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def create_app(store: Path, allowed_hosts: list[str] | None = None, token: str | None = None) -> Starlette:
    """The app (consumers/ui/access.py says who may use it): with no ``token``, a request's Host must be one
    of ``allowed_hosts`` (default: the loopback names); with a token, every request must carry it."""
    dash = api.Dashboard(store)
    csrf = new_token()

    def endpoint(handler):
        async def respond(request: Request) -> Response:
            client = Client()
            context = CLIENT.set(client)
            try:  # the task copies the context with the client in it
                work = asyncio.ensure_future(run_in_threadpool(handler, dash, dict(request.query_params),
                                                               request.path_params))
            finally:
                CLIENT.reset(context)
            try:
                while not work.done():
                    await asyncio.wait({work}, timeout=DISCONNECT_POLL)
                    if not work.done() and await request.is_disconnected():
                        client.left()
                        break
                return json_response(await work)
            except BadRequest as e:
                return json_response({"error": str(e)}, 400)
            except StoreError as e:
                return json_response({"error": str(e)}, 404)
        return respond

    async def page(request: Request) -> Response:  # the page carries its token for the requests that write
        body = _page().replace(b'<meta name="ol-csrf" content="">', f'<meta name="ol-csrf" content="{csrf}">'.encode())
        return Response(body, media_type=STATIC["index.html"], headers={"Cache-Control": "no-store",
                                                                        "Content-Security-Policy": POLICY})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return json_response({"error": f"no file {name!r} here"}, 404)
        body, version = _asset(name)
        # the page names each file with its content's hash: that URL's answer never changes, so a browser keeps it
        # and a page opened again asks the server for its data only (14 files fewer on a busy two-core server)
        cache = IMMUTABLE if request.query_params.get("v") == version else "no-cache"
        return Response(body, media_type=STATIC[name], headers={"Cache-Control": cache})

    async def workspaces(request: Request) -> Response:
        """GET: the saved workspaces' names, or ``?name=`` one with its view; POST {"name", "view", "replace"}:
        save one, from the dashboard's own page only (consumers/ui/saved.py, access.py)."""
        try:
            if request.method == "POST":
                headers = {k.lower(): v for k, v in request.headers.items()}
                refused = refused_write(headers, request.url.scheme, csrf)
                if refused:
                    return json_response({"error": refused}, 403)
                body = await _json_body(request, MAX_BODY)
                if not isinstance(body, dict):
                    raise BadRequest("send the workspace as JSON: {\"name\": …, \"view\": …}")
                return json_response(await run_in_threadpool(saved.save, store, body.get("name"), body.get("view"),
                                                             body.get("replace", False)))
            if "name" in request.query_params:
                return json_response(await run_in_threadpool(saved.view_of, store, request.query_params["name"]))
            return json_response({"workspaces": await run_in_threadpool(saved.listing, store)})
        except TooLarge as e:
            return json_response({"error": str(e)}, 413)
        except saved.Conflict as e:
            return json_response({"error": str(e)}, 409)
        except BadRequest as e:
            return json_response({"error": str(e)}, 400)
        except OlError as e:  # the store's folder is not one to write into (a link, another user's)
            return json_response({"error": str(e)}, 409)
        except OSError as e:  # a read-only store, a full disk: the view is still in the page's URL
            return json_response({"error": f"cannot save in {store}: {e.strerror or e}; the link keeps the view"},
                                 409)

    async def export(request: Request) -> Response:
        """The view as one self-contained HTML file, downloaded (consumers/ui/export.py)."""
        try:
            html = await run_in_threadpool(export_html, store, request.query_params.get("view", ""))
        except BadRequest as e:
            return json_response({"error": str(e)}, 400)
        return Response(html, media_type="text/html; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="ol-workspace.html"',
                                 "Cache-Control": "no-store"})

    async def live(request: Request) -> Response:
        try:
            stream = api.LiveStream(dash, dict(request.query_params))
            await run_in_threadpool(stream.check)
        except BadRequest as e:
            return json_response({"error": str(e)}, 400)
        return StreamingResponse(_events(request, stream), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/runs", endpoint(api.runs)),
        Route("/api/metrics", endpoint(api.metrics)),
        Route("/api/series", endpoint(api.series)),
        Route("/api/groups", endpoint(api.groups)),
        Route("/api/estimates", endpoint(sweeps.estimates)),
        Route("/api/run/{experiment}/{run_id}", endpoint(api.run_page)),
        Route("/api/compare", endpoint(compare)),
        Route("/api/media/{experiment}/{run_id}", endpoint(media)),
        Route("/api/media-index", endpoint(media_index)),
        Route("/api/sweeps", endpoint(sweeps.sweeps)),
        Route("/api/sweep/{name}", endpoint(sweeps.sweep)),
        Route("/api/workspaces", workspaces, methods=["GET", "POST"]),
        Route("/api/live", live),
        Route("/export", export),
    ]
    hosts = ["*"] if token is not None else (allowed_hosts or LOOPBACK_NAMES)
    middleware = [Middleware(Guard, token=token), Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
                  # level 1: most of gzip's saving on JSON of numbers at a fraction of its time
                  Middleware(RemoteGZip, minimum_size=2048, compresslevel=1)]
    return Starlette(routes=routes, middleware=middleware)


class RemoteGZip(GZipMiddleware):
    """Compress for clients on other machines (an SSH tunnel, a colleague's browser); a page on this
    machine gets the bytes as they are — compressing 5 MB of numbers costs more than loopback saves."""

    async def __call__(self, scope, receive, send):
        client = scope.get("client")
        if scope["type"] == "http" and client and client[0] in ("127.0.0.1", "::1"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _events(request: Request, stream: api.LiveStream):
    """Server-sent events: new points and status changes as they happen, a comment as heartbeat."""
    quiet = 0.0
    yield b"retry: 1000\n\n"
    while True:
        if await request.is_disconnected():
            return
        messages = await run_in_threadpool(stream.poll)
        for kind, data in messages:
            yield b"event: " + kind.encode() + b"\ndata: " + _json.encode(data) + b"\n\n"
        quiet = 0.0 if messages else quiet + LIVE_INTERVAL
        if quiet >= HEARTBEAT:
            quiet = 0.0
            yield b": still here\n\n"
        if stream.finished:
            return
        await asyncio.sleep(LIVE_INTERVAL)


class TooLarge(BadRequest):
    """A request body over the limit (HTTP 413)."""


async def _json_body(request: Request, limit: int):
    """A request's JSON body, refused unread past ``limit`` bytes or BODY_TIMEOUT seconds."""
    said = request.headers.get("content-length", "")
    if said.isdigit() and int(said) > limit:
        raise TooLarge(f"a request body is at most {limit // 1024} KiB")

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"a request body is at most {limit // 1024} KiB")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        data = await asyncio.wait_for(read(), BODY_TIMEOUT)
    except asyncio.TimeoutError:
        raise BadRequest(f"the request's body did not arrive within {BODY_TIMEOUT:.0f} s") from None
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise BadRequest("send the workspace as JSON: {\"name\": …, \"view\": …}") from None


IMMUTABLE = "public, max-age=31536000, immutable"


@functools.cache
def _asset(name: str) -> tuple[bytes, str]:
    """A static file's bytes and version (a hash of them), read once: the package's files do not change under a
    running server."""
    body = resources.files("ol.consumers.ui").joinpath("static", name).read_bytes()
    return body, hashlib.blake2b(body, digest_size=8).hexdigest()


@functools.cache
def _page() -> bytes:
    """index.html with each static file it loads named by version (``/static/app.js?v=…``)."""
    return re.sub(rb'"/static/([a-z-]+\.(?:js|css))"',
                  lambda m: f'"/static/{m[1].decode()}?v={_asset(m[1].decode())[1]}"'.encode(), _asset("index.html")[0])
