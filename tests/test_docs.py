"""The documentation names everything there is: every setting, every error code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import imagegate.core.errors as errors
from harness import ROOT
from imagegate.settings import Settings

DOCS = ROOT / "docs"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert f"| `{name}` | `IMAGEGATE_{name.upper()}` |" in text


ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.ImagegateError)
    and cls is not errors.ImagegateError
    and cls is not errors.DeliveryError
    and cls is not errors.BlobMissing  # internal: surfaces as 5540 storage error
]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_code_and_status_is_documented(cls: type[errors.ImagegateError]) -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith(f"| {cls.code} |")]
    assert rows, f"{cls.__name__} ({cls.code}) is not in docs/errors.md"
    assert any(str(cls.status) in row.split("|")[2] for row in rows), (
        f"{cls.__name__}: status {cls.status} of code {cls.code} is not documented"
    )


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize(
    "page", [*sorted(DOCS.glob("*.md")), DOCS.parent / "README.md"], ids=lambda p: p.name
)
def test_every_relative_link_reaches_its_file_and_heading(page: Path) -> None:
    broken = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        file, _, anchor = target.partition("#")
        where = (page.parent / file).resolve() if file else page
        if not where.exists():
            broken.append(f"{target}: no such file")
        elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
            broken.append(f"{target}: no heading #{anchor} in {where.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)
