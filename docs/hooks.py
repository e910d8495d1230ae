"""MkDocs hooks: the reference pages' tables are made from the code at build time (the event kinds from
ol.schemas, the SQL views from the views' own definition over an empty store), so they cannot drift from it."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import typing
from pathlib import Path

import msgspec

MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")
ROOT = Path(__file__).resolve().parent.parent
API_TREE = ROOT / ".docs-api"  # mkdocs.yml's mkdocstrings paths


def _api_tree() -> None:
    """The package as it is installed, made of links: pyproject.toml maps the repo's folders onto ol.* (store/ is
    ol.store), which mkdocstrings' reader, looking for ol/store/ beside ol/__init__.py, would not find. Made when
    MkDocs loads this file, before any page asks for the API."""
    (API_TREE / "ol").mkdir(parents=True, exist_ok=True)
    links = {entry.name: entry for entry in (ROOT / "ol").iterdir() if entry.name != "__pycache__"}
    links.update({part: ROOT / part for part in ("cli", "consumers", "experiments", "producer", "schemas", "store")})
    for name, target in links.items():
        link = API_TREE / "ol" / name
        if not (link.is_symlink() and link.resolve() == target.resolve()):
            tmp = link.with_name(f".{name}.{os.getpid()}")
            tmp.symlink_to(target)
            os.replace(tmp, link)  # whole: builds running at once (the suite's, a `mkdocs serve`) never collide


_api_tree()
# mkdocs-click imports the command's module by name: this file, under a name of its own (MkDocs loads it by path)
sys.modules.setdefault("ol_docs_reference", sys.modules[__name__])


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda m: GENERATORS[m[1]](), markdown)


def _type(annotation) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or str(annotation)
    return re.sub(r"\b(typing|ol\.schemas\.[a-z_.]+)\.", "", str(text)).replace(" | ", " or ")


def _default(field) -> str:
    if field.default is not msgspec.NODEFAULT:
        value = field.default
    elif field.default_factory is not msgspec.NODEFAULT:
        value = field.default_factory()
    else:
        return ""
    shown = f"{type(value).__name__}()" if isinstance(value, msgspec.Struct) else repr(value)
    return f"`{shown}`".replace("|", "&#124;")


def events() -> str:
    from ol.schemas import EVENT_TYPES, event_kind

    out = []
    for kind in EVENT_TYPES:
        hints = typing.get_type_hints(kind)
        out += [f"### `{event_kind(kind)}`", "", (kind.__doc__ or "").strip(), "",
                "| field | type | default |", "| --- | --- | --- |"]
        out += [f"| `{f.name}` | `{_type(hints[f.name])}` | {_default(f)} |" for f in msgspec.structs.fields(kind)]
        out.append("")
    return "\n".join(out)


def sql_views() -> str:
    from ol.consumers.analytics.sql import connect

    with tempfile.TemporaryDirectory() as store:
        conn = connect(Path(store))
        try:
            schema = conn.schema()
        finally:
            conn.con.close()
    out = []
    for view, columns in schema.items():
        out += [f"### `{view}`", "", "| column | type |", "| --- | --- |"]
        out += [f"| `{name}` | `{kind}` |" for name, kind in columns]
        out.append("")
    return "\n".join(out)


GENERATORS = {"events": events, "sql-views": sql_views}


def __getattr__(name: str):
    """``ol_command``: the click command behind ``ol`` (typer's), for mkdocs-click's reference of every command."""
    if name == "ol_command":
        import typer

        from ol.cli.app import app

        command = typer.main.get_command(app)
        ctx = command.make_context("ol", [], resilient_parsing=True)
        for name in command.list_commands(ctx):  # every command loaded: `ol` imports each only when it runs
            command.commands[name] = command.get_command(ctx, name)
        return command
    raise AttributeError(name)
