"""The folders are the architecture: who may import whom, checked over the import graph of the source
(every ``import ol.…`` and ``from ol.… import``, at any depth, lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the installed name of each source folder (pyproject's package-dir)
FOLDERS = {"schemas": "ol.schemas", "store": "ol.store", "producer": "ol.producer", "consumers": "ol.consumers",
           "experiments": "ol.experiments", "cli": "ol.cli", "ol/integrations": "ol.integrations"}
FAMILIES = ("console", "analytics", "replay", "ui")
# what each layer may import besides itself and the top of the package every layer shares (ol.errors, ol.__version__)
ALLOWED = {
    "ol.schemas": set(),
    "ol.store": {"ol.schemas"},
    "ol.producer": {"ol.schemas", "ol.store"},
    "ol.consumers": {"ol.schemas", "ol.store"},
    "ol.experiments": {"ol.schemas", "ol.producer"},
    "ol.integrations": {"ol.schemas", "ol.store", "ol.producer"},  # producers for other frameworks' loops
}
# the dashboard's run filter is a WHERE clause over the runs view: it uses analytics' sandboxed SQL
# connection rather than a copy of it (everything else both read comes from the store's read model)
FAMILY_EXTRA = {"ui": {"analytics"}}


def modules(root: Path = ROOT) -> list[tuple[str, Path]]:
    out = []
    for folder, package in FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            name = ".".join([package, *parts]).removesuffix(".__init__")
            out.append((name, path))
    return out


def imports_of(path: Path) -> set[str]:
    """Every absolute import of a module: ``ol.…`` names and third-party ones (torch) alike."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from ol.consumers import plots`
    return found


def layer_of(name: str) -> str:
    return ".".join(name.split(".")[:2])


def family_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "consumers" and parts[2] in FAMILIES else None


def violations(root: Path = ROOT) -> list[str]:
    bad = []
    for name, path in modules(root):
        layer = layer_of(name)
        for target in imports_of(path):
            if layer == "ol.consumers" and target.split(".")[0] == "torch":
                bad.append(f"{name} imports torch")
            if target.split(".")[0] != "ol":
                continue
            to_layer = layer_of(target)
            if to_layer not in FOLDERS.values() or to_layer == layer or layer == "ol.cli":
                pass  # the package's top (ol.errors, ol.__version__), itself, or the CLI, which may import anything
            elif to_layer not in ALLOWED.get(layer, set()):
                bad.append(f"{name} imports {target} ({layer} may import {sorted(ALLOWED[layer]) or 'nothing of ol'})")
            if layer == "ol.consumers" and to_layer == "ol.consumers":
                mine, theirs = family_of(name), family_of(target)
                if mine and theirs and theirs != mine and theirs not in FAMILY_EXTRA.get(mine, set()):
                    bad.append(f"{name} imports {target}: the {mine} family imports only its own members")
    return bad


def test_layers_import_only_what_they_may():
    assert violations() == []


def store_internals(root: Path = ROOT) -> list[str]:
    """Imports of the store's own modules (``ol.store.<module>``) from outside it: consumers, the CLI and the
    integrations read and write through ``ol.store``'s public face only (store/__init__.py)."""
    bad = []
    for name, path in modules(root):
        if layer_of(name) not in ("ol.consumers", "ol.cli", "ol.integrations"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            named = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            if isinstance(node, ast.ImportFrom) and node.module == "ol.store":  # `from ol.store import read`
                named += [f"ol.store.{a.name}" for a in node.names if a.name in STORE_PARTS]
            bad += [f"{name} imports {n}" for n in named if n.startswith("ol.store.")]
    return bad


STORE_PARTS = {p.stem for p in (ROOT / "store").iterdir() if p.stem != "__init__" and p.suffix in ("", ".py")}
# how a reader would decide for itself whether a run is live: the store's business (store/read/snapshot.py)
LIVE_OR_SEALED = ("from_log", "batch_of", "is_live", "writer_active")


def test_no_reader_asks_whether_a_run_is_live():
    """Everything outside the store reads a run the same way whatever its state: no module names the store's
    own predicates."""
    said = [f"{path.relative_to(ROOT)}: {word}" for name, path in modules()
            if layer_of(name) != "ol.store"
            for word in LIVE_OR_SEALED if word in path.read_text()]
    assert said == []


def test_consumers_the_cli_and_integrations_use_only_the_stores_public_face(tmp_path):
    assert store_internals() == []
    fake = tmp_path / "consumers" / "console"
    fake.mkdir(parents=True)
    (fake / "peek.py").write_text("def f():\n    from ol.store.read.snapshot import open_snapshot\n")
    (fake / "part.py").write_text("from ol.store import read\n")
    assert sorted(store_internals(tmp_path)) == ["ol.consumers.console.part imports ol.store.read",
                                                 "ol.consumers.console.peek imports ol.store.read.snapshot"]


def test_every_name_the_store_exports_exists():
    import ol.store

    for name in ol.store.__all__:
        assert getattr(ol.store, name) is not None, name


def test_the_producer_imports_nothing_above_it():
    """ol.__version__ lives with the format's versions (ol.schemas.version): the producer imports no ``ol``
    module that is not a layer below it (ol.errors, shared by every layer, aside)."""
    found = {t for name, path in modules() if layer_of(name) == "ol.producer" for t in imports_of(path)
             if t.split(".")[0] == "ol" and layer_of(t) not in FOLDERS.values() and not t.startswith("ol.errors")}
    assert found == set(), found


def test_every_consumer_module_belongs_to_a_family():
    loose = [n for n, _ in modules() if layer_of(n) == "ol.consumers" and n != "ol.consumers" and not family_of(n)]
    assert loose == []


def test_the_checker_sees_a_violation(tmp_path):
    """The rules can fail: a console module importing analytics, store importing the producer and a consumer
    importing torch (even lazily, inside a function) are caught."""
    fake = tmp_path / "consumers" / "console"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from ol.consumers.analytics.sql import connect\n")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "bad.py").write_text("import ol.producer.run\n")
    (fake / "tensor.py").write_text("def g():\n    from torch import nn\n")
    found = violations(tmp_path)
    assert "ol.consumers.console.tensor imports torch" in found, found
    assert any("console family imports only its own" in v for v in found), found
    assert any("ol.store.bad imports ol.producer.run" in v for v in found), found


@pytest.mark.parametrize("package", ["ol.producer.hooks.base", "ol.producer.hooks.runtime"])
def test_the_hook_registry_does_not_import_the_catalogue(package):
    """The catalogue registers itself (the package imports each family); the registry never imports it back."""
    path = dict(modules())[package]
    members = {"ol.producer.hooks.training", "ol.producer.hooks.gradients", "ol.producer.hooks.spectral",
               "ol.producer.hooks.interventions", "ol.producer.hooks"}
    assert not {i for i in imports_of(path) if i in members or i.rsplit(".", 1)[0] in members - {"ol.producer.hooks"}}
