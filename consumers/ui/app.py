"""`ol ui`'s HTTP side: a Starlette app with a JSON API and the page that calls it.

Every response is read-only over the store. Bad parameters are HTTP 400 with ``{"error": "…"}``
(one line); static files come from a fixed list inside the package, so no URL reaches any other
file. The API (documented in README.md) is usable on its own with curl.
"""

from __future__ import annotations

import asyncio
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
from ol.consumers.ui.access import LOOPBACK_NAMES, Guard
from ol.consumers.ui.client import CLIENT, Client
from ol.consumers.ui.compare import compare
from ol.consumers.ui.data import BadRequest
from ol.consumers.ui.media import media, media_index
from ol.errors import OlError
from ol.store.errors import StoreError

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
    "style.css": "text/css; charset=utf-8",
}
LIVE_INTERVAL = 0.1  # seconds between looks at the live runs' log tails
HEARTBEAT = 10.0
DISCONNECT_POLL = 0.25  # seconds between looks, during a long answer, at whether its client is still there
_json = msgspec.json.Encoder()


def json_response(data, status: int = 200) -> Response:
    return Response(_json.encode(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def create_app(store: Path, allowed_hosts: list[str] | None = None, token: str | None = None) -> Starlette:
    """The app (consumers/ui/access.py says who may use it): with no ``token``, a request's Host must be one
    of ``allowed_hosts`` (default: the loopback names); with a token, every request must carry it."""
    dash = api.Dashboard(store)

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

    async def page(request: Request) -> Response:
        return _static("index.html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return json_response({"error": f"no file {name!r} here"}, 404)
        return _static(name)

    async def workspaces(request: Request) -> Response:
        """GET: the saved workspaces; POST {"name", "view"}: save one (consumers/ui/saved.py)."""
        try:
            if request.method == "POST":
                try:
                    body = await request.json()
                except ValueError:
                    raise BadRequest("send the workspace as JSON: {\"name\": …, \"view\": …}") from None
                if not isinstance(body, dict):
                    raise BadRequest("send the workspace as JSON: {\"name\": …, \"view\": …}")
                return json_response(await run_in_threadpool(saved.save, store, body.get("name"), body.get("view")))
            return json_response({"workspaces": await run_in_threadpool(saved.listing, store)})
        except BadRequest as e:
            return json_response({"error": str(e)}, 400)
        except OlError as e:  # the store's folder is not one to write into (a link, another user's)
            return json_response({"error": str(e)}, 409)
        except OSError as e:  # a read-only store, a full disk: the view is still in the page's URL
            return json_response({"error": f"cannot save in {store}: {e.strerror or e}; the link keeps the view"},
                                 409)

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
        Route("/api/run/{experiment}/{run_id}", endpoint(api.run_page)),
        Route("/api/compare", endpoint(compare)),
        Route("/api/media/{experiment}/{run_id}", endpoint(media)),
        Route("/api/media-index", endpoint(media_index)),
        Route("/api/sweeps", endpoint(sweeps.sweeps)),
        Route("/api/sweep/{name}", endpoint(sweeps.sweep)),
        Route("/api/workspaces", workspaces, methods=["GET", "POST"]),
        Route("/api/live", live),
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


def _static(name: str) -> Response:
    body = resources.files("ol.consumers.ui").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})
