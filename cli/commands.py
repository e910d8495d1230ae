"""The sub-commands, loaded when they run: ``ol runs`` imports the runs command's module and nothing
of the other fifteen, and ``ol --help`` imports none of them (each one-line summary is read from its
module's source, where the command's docstring or its group's help says it once)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from functools import cache

import typer
from typer.core import TyperCommand, TyperGroup

EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
# name -> (module in ol.cli, the command's function or the group's Typer, click context settings), in
# the order `ol --help` lists them
COMMANDS: dict[str, tuple[str, str, dict]] = {
    "experiments": ("experiments_cmd", "experiments", {}),
    "new": ("new_cmd", "new", {}),
    "tail": ("tail_cmd", "tail", {}),
    "runs": ("runs_cmd", "runs", {}),
    "events": ("events_cmd", "events", {}),
    "verify": ("verify_cmd", "verify", {}),
    "query": ("query_cmd", "query", {}),
    "index": ("index_cmd", "index_app", {}),
    "export": ("export_cmd", "export", {}),
    "plot": ("plot_cmd", "plot_app", {}),
    "analyze": ("analyze_cmd", "analyze_app", {}),
    "replay": ("replay_cmd", "replay_cmd", {}),
    "hooks": ("hooks_cmd", "hooks_cmd", {}),
    "ui": ("ui_cmd", "ui", {}),
    "sweep": ("sweep_cmd", "sweep", EXTRA_ARGS),
    "import": ("import_cmd", "import_app", {}),
}


@cache
def load(name: str) -> TyperCommand | TyperGroup:
    """The click command of ``name``, its module imported now."""
    module_name, attribute, settings = COMMANDS[name]
    target = getattr(importlib.import_module(f"ol.cli.{module_name}"), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        one = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
        one.command(name, context_settings=settings)(target)
        command = typer.main.get_command(one)
    command.name = name
    _plain(command)
    return command


def _plain(command: TyperCommand | TyperGroup) -> None:
    """Help as the root prints it (plain text, no boxes), for a command and every sub-command of a group."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain(sub)


@cache
def summary(name: str) -> str:
    """The help `ol --help` shows for ``name``, from its module's source without importing it: the function's
    docstring, or the ``help=`` its group's Typer is made with."""
    module_name, attribute, _ = COMMANDS[name]
    spec = importlib.util.find_spec(f"ol.cli.{module_name}")
    try:
        with open(spec.origin, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, TypeError):
        return load(name).help or ""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return ast.get_docstring(node) or ""
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attribute for t in node.targets):
            call = node.value
            for keyword in getattr(call, "keywords", []):
                if keyword.arg == "help" and isinstance(keyword.value, ast.Constant):
                    return keyword.value.value
    return load(name).help or ""
