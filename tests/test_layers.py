"""The layers of the package, as its import statements draw them (read from the source, so
an import anywhere in a module counts, inside a function too).

* ``core`` is pure: the standard library and itself, nothing else of imagegate, no
  third-party package.
* ``usecases`` know the core and each other; never an adapter, the web, the CLI, the
  assembly or the settings (they are handed plain values).
* ``adapters`` implement the ports: they know the core and the use cases' ports and
  records, never the web, the CLI or the assembly.
* Only ``assembly`` (and the tests) import adapters; the web and the CLI go through it.
* ``web`` never imports the CLI, and the CLI imports the web only to name the app it serves.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "imagegate"
STDLIB = sys.stdlib_module_names


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, resolved against its own package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _of_package(imports: set[str]) -> set[str]:
    """The imagegate modules among ``imports`` (as real modules: a name imported from a
    module counts as that module)."""
    return {name for name in imports if name.split(".")[0] == "imagegate" and name in MODULES} | {
        name.rsplit(".", 1)[0]
        for name in imports
        if name.split(".")[0] == "imagegate" and name not in MODULES
    }


def _in(layer: str) -> list[str]:
    return sorted(m for m in MODULES if _layer(m) == layer)


def test_the_layers_are_there() -> None:
    for layer in ("core", "usecases", "adapters", "assembly", "web", "cli"):
        assert _in(layer), f"no module in imagegate.{layer}"


FORBIDDEN = {
    "usecases": {"adapters", "web", "cli", "assembly", "settings", "private_files", "variables"},
    "adapters": {"web", "cli", "assembly"},
    "web": {"adapters", "cli"},
    "cli": {"adapters"},
    "assembly": {"web", "cli"},
}


def violations(module: str, imports: set[str]) -> list[str]:
    """What ``module`` imports that its layer may not."""
    layer = _layer(module)
    found = []
    if layer == "core":
        found += [
            f"third-party {name}"
            for name in sorted(imports)
            if name.split(".")[0] not in STDLIB and name.split(".")[0] != "imagegate"
        ]
        found += [name for name in sorted(_of_package(imports)) if _layer(name) != "core"]
    forbidden = FORBIDDEN.get(layer, set())
    if layer not in ("adapters", "assembly"):
        forbidden = forbidden | {"adapters"}
    found += [name for name in sorted(_of_package(imports)) if _layer(name) in forbidden]
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_only_what_its_layer_may(module: str) -> None:
    assert violations(module, MODULES[module]) == []


@pytest.mark.parametrize(
    ("module", "imports"),
    [
        ("imagegate.core.fake", {"sqlalchemy"}),
        ("imagegate.core.fake", {"imagegate.usecases.ports"}),
        ("imagegate.usecases.fake", {"imagegate.adapters.metadata"}),
        ("imagegate.usecases.fake", {"imagegate.settings"}),
        ("imagegate.web.fake", {"imagegate.adapters.imaging"}),
        ("imagegate.cli.fake", {"imagegate.adapters.fetch"}),
        ("imagegate.adapters.fake", {"imagegate.web.app"}),
    ],
)
def test_the_rules_see_a_violation(module: str, imports: set[str]) -> None:
    """A control: each rule refuses a module written to break it."""
    assert violations(module, imports) != []
