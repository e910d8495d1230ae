"""Who may talk to `ol ui`: what the dashboard promises when it is served.

- On a loopback address (any of 127.0.0.0/8, ::1, localhost) the Host header must name this machine
  (the bound address or a loopback name), so a web page elsewhere cannot reach the store by DNS rebinding.
- On any other address a token is required on every route: given in the URL once (``/?token=…``, as
  Jupyter does), after which a cookie (HttpOnly, SameSite=Strict) carries it; or sent as
  ``Authorization: Bearer …`` by a script. Without it every route answers 401.
- Whatever the address, a request another site's page makes (``Sec-Fetch-Site: cross-site``, sent by
  every current browser, also for ``no-cors`` requests nobody can read) is refused with 403, so a link or
  a page elsewhere cannot make the server run a filter.
- A request that changes the store (saving a workspace) must also come from the dashboard's own page: a JSON
  body (a form or a "simple" request cannot send one without a preflight this server never grants), an
  ``Origin`` equal to the server's own (a page on another port of this host is same-*site* but not same-origin),
  and, when a client sends no ``Origin``, the page's own token in ``X-OL-CSRF`` (the page gets it inside
  its HTML, which another origin cannot read).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

COOKIE = "ol_token"
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


CSRF_HEADER = "x-ol-csrf"


def refused_write(headers: dict[str, str], scheme: str, csrf: str) -> str | None:
    """Why a state-changing request is refused (module docstring), or None when it may go on; ``headers``
    lower-cased names."""
    if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return "send it as JSON (Content-Type: application/json)"
    origin = headers.get("origin")
    if origin is not None:
        if origin != f"{scheme}://{headers.get('host', '')}":
            return "requests from another origin's page may not change the store"
    elif not hmac.compare_digest(headers.get(CSRF_HEADER, "").encode(), csrf.encode()):
        return f"a request without an Origin needs the page's token in {CSRF_HEADER.upper()}"
    return None


def new_token() -> str:
    return secrets.token_urlsafe(24)


def loopback_hosts(bound: str) -> list[str]:
    """The Host names a loopback-bound server answers to: the loopback names and the bound address."""
    names = list(LOOPBACK_NAMES)
    if bound not in names:
        names += [bound, f"[{bound}]"] if ":" in bound else [bound]
    return names


class Guard:
    """ASGI middleware enforcing the module docstring's rules; ``token`` None means loopback-only serving
    (the Host check is then done by Starlette's TrustedHostMiddleware inside)."""

    def __init__(self, app, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get("sec-fetch-site") == "cross-site":
            await _reply(send, 403, b'{"error": "requests from another site\'s page are refused"}')
            return
        if self.token is not None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if self._matches(query.get("token")):  # the first visit: keep it in a cookie, drop it from the URL
                rest = urlencode({k: v for k, v in query.items() if k != "token"})
                location = scope.get("path", "/") + (f"?{rest}" if rest else "")
                cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                await _reply(send, 303, b"", [(b"location", location.encode()), (b"set-cookie", cookie.encode())])
                return
            bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
            jar = SimpleCookie(headers.get("cookie", ""))
            if not (self._matches(bearer) or (COOKIE in jar and self._matches(jar[COOKIE].value))):
                await _reply(send, 401, b'{"error": "this dashboard needs its token: open the URL `ol ui` printed, '
                                        b'or send Authorization: Bearer TOKEN"}')
                return
        await self.app(scope, receive, send)

    def _matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())


async def _reply(send, status: int, body: bytes, extra: list | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
