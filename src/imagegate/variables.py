"""``IMAGEGATE_*`` environment variables that name nothing imagegate reads.

Settings come from ``IMAGEGATE_*`` variables, and one that is misspelt
(``IMAGEGATE_MAX_UPLOAD_BYTE``) would be ignored without a word, leaving the default in
force. :func:`unknown_variables` finds every variable that looks meant for imagegate (its
name starts with ``IMAGEGATE``, in any case, or with a near miss of it such as
``IMAGEGAT_`` or ``IMGAEGATE_``) but is neither a setting nor one of the few variables the
command-line tools read, and names the known variable it is closest to. ``imagegate serve``
prints them before it starts and ``imagegate doctor`` reports them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from imagegate.settings import Settings

PREFIX = "IMAGEGATE_"
#: Variables read by the command-line tools and the test suite, not by Settings.
OTHER_VARIABLES = frozenset(
    {
        "IMAGEGATE_ADMIN_PASSWORD",  # imagegate init
        "IMAGEGATE_SIGNING_KEY",  # imagegate sign / verify
        "IMAGEGATE_URL",  # imagegate import
        "IMAGEGATE_ACCOUNT_ID",  # imagegate import
        "IMAGEGATE_API_TOKEN",  # imagegate import
        "IMAGEGATE_CHROMIUM",  # the browser tests
        "IMAGEGATE_SHARED_DIR",  # the interoperability tests
    }
)
#: Prefixes of variables that belong to the test suite.
OTHER_PREFIXES = ("IMAGEGATE_TEST_",)
_NEAR_PREFIX = 0.8
_NEAR_SUFFIX = 0.6
_NEAR_NAME = 0.9


@dataclass(frozen=True, slots=True)
class Unknown:
    name: str
    closest: str | None

    def describe(self) -> str:
        hint = f" Did you mean {self.closest}?" if self.closest else ""
        return f"{self.name} is ignored: imagegate reads no such variable.{hint}"


def known_variables() -> frozenset[str]:
    """Every variable imagegate reads: one per setting, and those of the tools."""
    settings = {PREFIX + name.upper() for name in Settings.model_fields}
    return frozenset(settings | OTHER_VARIABLES)


def unknown_variables(
    environ: Mapping[str, str], known: Iterable[str] | None = None
) -> list[Unknown]:
    """The variables of ``environ`` that look meant for imagegate but name nothing it
    reads, by name, each with the closest known name (if one is close)."""
    names = sorted(known if known is not None else known_variables())
    by_suffix = {name[len(PREFIX) :]: name for name in names}
    found = []
    for name in sorted(environ):
        upper = name.upper()  # settings are read whatever the case of the name
        if upper in names or upper.startswith(OTHER_PREFIXES):
            continue
        if upper.startswith(PREFIX.rstrip("_")):
            # What follows the prefix decides (the prefix itself makes every name alike).
            suffix = upper[len(PREFIX) - 1 :].lstrip("_")
            close = difflib.get_close_matches(suffix, by_suffix, n=1, cutoff=_NEAR_SUFFIX)
            found.append(Unknown(name, by_suffix[close[0]] if close else None))
        elif _near_prefix(upper):
            # Someone else's variable unless the whole name is nearly one of imagegate's.
            close = difflib.get_close_matches(upper, names, n=1, cutoff=_NEAR_NAME)
            if close:
                found.append(Unknown(name, close[0]))
    return found


def _near_prefix(upper: str) -> bool:
    head = upper[: len(PREFIX)]
    return difflib.SequenceMatcher(None, head, PREFIX).ratio() >= _NEAR_PREFIX
