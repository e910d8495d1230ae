"""`ol ui`: serve the browser dashboard of a store on this machine."""

from __future__ import annotations

import errno
import socket
import sys
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, StoreOption, err_console, warn
from ol.cli.index_cmd import indexing_progress
from ol.errors import UsageError

DEFAULT_PORT = 8765


def ui(
    store: StoreOption = DEFAULT_STORE,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; 0.0.0.0 exposes the store to "
                                                     "your network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = DEFAULT_PORT,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the dashboard in a browser.")] = False,
    token: Annotated[str | None, typer.Option("--token", envvar="OL_UI_TOKEN", help="The token a non-loopback "
                                              "server asks of every request (default: a new random one, "
                                              "printed with the URL). Prefer OL_UI_TOKEN: an option is "
                                              "visible to every user in `ps`.")] = None,
    export: Annotated[str | None, typer.Option("--export", help="Write WORKSPACE (a saved workspace's name, or a "
                                               "view as the page's address has it after '#') as one HTML file "
                                               "that opens offline, and serve nothing.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="With --export: the file to write.")] = None,
) -> None:
    """Serve a read-only dashboard of the store: runs, curves, seed groups, live runs (Ctrl+C stops);
    --export WORKSPACE -o FILE.html writes a workspace as one self-contained file instead."""
    if export is not None:
        _export(store, export, out)
        return
    if not 0 <= port <= 65535:
        raise UsageError(f"ui: --port must be between 0 and 65535, got {port}")
    if token is not None and len(token) < 16:
        raise UsageError("ui: --token must be at least 16 characters; leave it out for a random one")
    sock = _bind(host, port)
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    import uvicorn  # the server stack loads only for this command

    from ol.consumers.ui.access import is_loopback, loopback_hosts, new_token
    from ol.consumers.ui.app import create_app
    from ol.store import sync

    if store.is_dir():  # indexing first makes the first paint a read of a few consolidated files
        with indexing_progress() as progress:
            report = sync(store, progress=progress)
        for w in report.warnings:
            warn(w)
    else:
        warn(f"there is no store at {store} yet; the page will show runs "
                          "once `ol train … --store` creates it")
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    url = f"http://{shown}:{bound[1]}/"
    # loopback (any form): only this machine's names as Host, no DNS rebinding; anything else: a token
    local = is_loopback(bound[0])
    secret = None if local else (token or new_token())
    if local:
        err_console.print(f"ol ui: serving {store} at {url}  (Ctrl+C to stop)", highlight=False, markup=False,
                          soft_wrap=True)
    else:
        url += f"?token={secret}"
        err_console.print(f"ol ui: serving {store} to the network at {url}  (anyone with this URL can read every "
                          "run in the store; Ctrl+C to stop)", highlight=False, markup=False, soft_wrap=True)
    if open_browser:
        webbrowser.open(url)
    app = create_app(store, loopback_hosts(bound[0]) if local else None, token=secret)
    from ol.consumers.ui.protocol import DeadlineH11

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1,
                            http=DeadlineH11)
    uvicorn.Server(config).run(sockets=[sock])


def _export(store: Path, workspace: str, out: Path | None) -> None:
    from ol.consumers.ui import saved
    from ol.consumers.ui.data import BadRequest
    from ol.consumers.ui.export import export_html

    if out is None:
        raise UsageError("ui: --export needs -o FILE.html, the file to write")
    if not store.is_dir():
        raise UsageError(f"ui: there is no store at {store}; pass --store")
    try:
        view = workspace if "=" in workspace or workspace.startswith("#") else saved.view_of(store, workspace)["view"]
        html = export_html(store, view)
    except BadRequest as e:
        known = [w["name"] for w in saved.listing(store)]
        raise UsageError(f"ui: {e}", hint=f"saved workspaces: {', '.join(known)}" if known else
                         "save one from the dashboard, or give a view such as 'runs=EXP/RUN,EXP/RUN&metric=eval/acc'") \
            from None
    out.write_text(html)
    err_console.print(f"ol ui: wrote {out} ({len(html.encode()) / 2**20:.1f} MiB); it opens in any browser, offline",
                      highlight=False, markup=False)


class _WithoutPandas:
    """pyarrow imports pandas, when it is installed, for its own type checks (converting a list, reading a
    column): about 50 MiB resident in the server, which never uses pandas. An import that fails is what pyarrow
    (and DuckDB) expect where pandas is not installed. (``sys.modules["pandas"] = None`` would not do: pyarrow's
    compiled import takes the None for the module.)"""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("the dashboard's server runs without pandas", name=name)
        return None


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a port in use is one clear line, not a server traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise UsageError(f"ui: cannot listen on --host {host!r} ({e.strerror}); use an address of this machine, "
                         "e.g. 127.0.0.1") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"ui: port {port} on {host} is in use (another `ol ui`?); pass --port N, or --port 0 "
                             "for any free port") from None
        raise UsageError(f"ui: cannot listen on {host}:{port} ({e.strerror}); pass another --host or --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
