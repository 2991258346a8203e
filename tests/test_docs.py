"""The documentation names everything there is: every setting, every error code."""

from __future__ import annotations

import inspect

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
