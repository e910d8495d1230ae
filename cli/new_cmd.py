"""`ol new NAME`: a runnable experiment package to start your own from.

Non-interactive unless asked: every answer has a flag and a default, so scripts and CI never wait on a
prompt; `--interactive` asks for the description and the directory instead.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from ol.cli.common import console, experiment_names
from ol.errors import UsageError

NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
# template file -> where it goes in the new package ({module} is the Python package's name)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "{module}/__init__.py",
    "experiment.py.tmpl": "{module}/experiment.py",
    "test_experiment.py.tmpl": "tests/test_{module}.py",
}
STRATEGIES = "random, fixed, easy-to-hard, hard-to-easy"


def new(
    name: Annotated[str, typer.Argument(help="The experiment's name, as `ol train NAME` will spell it.")],
    directory: Annotated[Path | None, typer.Option("--dir", help="Where to create the package "
                                                   "(default: ./NAME).")] = None,
    description: Annotated[str | None, typer.Option(help="One line saying what the experiment studies.")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", "-i",
                                              help="Ask for what the flags leave out.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Take every default without asking (the default "
                                      "unless --interactive).")] = False,
) -> None:
    """Create a runnable experiment package (config, data with four orderings, model, setup, a test)."""
    if not NAME.match(name):
        raise UsageError(f"new: {name!r} is not an experiment name: use lower-case letters, digits, '_' or '-', "
                         "starting with a letter (e.g. my_task)")
    module = name.replace("-", "_")
    if keyword.iskeyword(module) or module in ("ol", "test", "tests"):
        raise UsageError(f"new: {name!r} would shadow a Python module; pick another name")
    taken = experiment_names()
    if name in taken or module in taken:
        raise UsageError(f"new: an experiment named {name!r} is already installed (`ol experiments {name}`); "
                         "pick another name")
    ask = interactive and not yes
    default_description = f"{name}: how the order of training examples changes what a small network learns."
    if description is None:
        description = typer.prompt("description", default=default_description) if ask else default_description
    if directory is None:
        directory = Path(typer.prompt("directory", default=name)) if ask else Path(name)
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"new: {directory} already exists and is not empty; pass --dir to create it elsewhere "
                         "(nothing was written)")
    values = {"name": name, "module": module, "dist_name": f"ol-{name}", "description": _one_line(description),
              "class_name": "".join(part.capitalize() for part in re.split(r"[_-]", name)) + "Experiment",
              "strategies": STRATEGIES}
    templates = resources.files("ol") / "templates" / "new_experiment"
    written = []
    for template, target in FILES.items():
        path = directory / target.format(module=module)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template((templates / template).read_text()).substitute(values))
        written.append(path)
    console.print(f"created [bold]{name}[/] in {directory}/ ({len(written)} files)")
    console.print(f"  pip install -e {directory} && ol train {name}      # then: ol runs, ol ui")
    console.print(f"  python -m pytest {directory / 'tests'}")


def _one_line(text: str) -> str:
    """A description as it can sit in a Python string and a TOML value: one line, no quotes to escape."""
    return " ".join(text.split()).replace("\\", "/").replace('"', "'")
