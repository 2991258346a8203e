"""Variant options: the one place that says what each option accepts. Pure.

Options come from three places, and every one of them is checked here, against the same
rules and the operator's largest side (``max_side``):

* a flexible variant's URL segment, ``w=400,h=300,fit=cover`` (:func:`parse_flexible`),
  Cloudflare's names and aliases, every value a string;
* a named variant's ``options`` object through the API, with JSON's types (:func:`named_options`);
* the dashboard's variant forms and previews, strings again (:func:`named_options`,
  :func:`override`).

A value is refused with :class:`InvalidOptions`, whose message names the option and the
range it takes, never the value itself (it may be anything a client sent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from imagegate.core.models import (
    GRAVITY_KEYWORDS,
    Fit,
    MetadataMode,
    OutputFormat,
    VariantOptions,
)


class InvalidOptions(ValueError):
    """An option cannot be honoured; the message names the option, never the value."""


ALIASES = {"w": "width", "h": "height", "q": "quality", "f": "format", "g": "gravity"}
#: Cloudflare's named qualities, as imagegate maps them.
NAMED_QUALITY = {"high": 90, "medium-high": 80, "medium-low": 70, "low": 60}
MAX_SEGMENT = 512
MIN_BROWSER_TTL, MAX_BROWSER_TTL = 3600, 31536000
_FOCAL = re.compile(r"(0(?:\.\d+)?|1(?:\.0+)?)x(0(?:\.\d+)?|1(?:\.0+)?)")
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_NUMBER = re.compile(r"\d{1,5}(?:\.\d{1,4})?")
_BOOLS = {"true": True, "1": True, "false": False, "0": False}

#: An option's check: the value as sent (text from a URL or form, a JSON value from the API)
#: and the largest side, to the value the options hold. Raises ValueError or TypeError.
Check = Callable[[Any, int], Any]


def looks_flexible(segment: str) -> bool:
    """Named variants are alphanumeric; anything with ``=`` is a list of options."""
    return "=" in segment


def parse_flexible(segment: str, max_side: int = 12000) -> VariantOptions:
    """``w=400,h=300,fit=cover,f=auto`` (Cloudflare's names and aliases) -> options."""
    if len(segment) > MAX_SEGMENT:
        raise InvalidOptions("options segment too long")
    try:
        text = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise InvalidOptions("options are not UTF-8") from None
    values: dict[str, Any] = {}
    for item in text.split(","):
        name, eq, raw = item.partition("=")
        name = ALIASES.get(name, name)
        if not eq or name not in FLEXIBLE:
            raise InvalidOptions("unknown option")
        if name in values:
            raise InvalidOptions(f"{name} given twice")
        values[name] = check(name, raw, max_side)
    return VariantOptions(**values)


def named_options(
    values: Mapping[str, Any], max_side: int, base: VariantOptions | None = None
) -> VariantOptions:
    """A named variant's options: ``fit``, ``metadata``, ``width`` and ``height`` (all four
    required, as Cloudflare's API has them) and any other option; None means left out.
    Options not given keep their value in ``base`` (or the defaults)."""
    given = {name: value for name, value in values.items() if value is not None}
    unknown = sorted(set(given) - set(NAMED))
    if unknown:
        raise InvalidOptions(f"unknown option {unknown[0][:40]!r}")
    for required in ("width", "height"):
        if required not in given:
            raise InvalidOptions(f"{required} is required")
    checked = {name: check(name, value, max_side) for name, value in given.items()}
    return replace(base or VariantOptions(), **checked)


def override(base: VariantOptions, values: Mapping[str, str], max_side: int) -> VariantOptions:
    """``base`` with the options in ``values`` that are not blank (a preview's form fields)."""
    given = {name: value for name, value in values.items() if value != ""}
    unknown = sorted(set(given) - set(NAMED))
    if unknown:
        raise InvalidOptions(f"unknown option {unknown[0][:40]!r}")
    return replace(base, **{name: check(name, value, max_side) for name, value in given.items()})


def check(name: str, value: Any, max_side: int) -> Any:
    """One option's value, checked and normalised (a string or a JSON value)."""
    try:
        return NAMED[name](value, max_side)
    except (ValueError, TypeError, KeyError):
        raise InvalidOptions(refusal(name, max_side)) from None


def refusal(name: str, max_side: int) -> str:
    """Why a value of option ``name`` was refused, in words (never the value itself)."""
    takes = RANGES[name].format(max_side=max_side)
    if name in _CHOICES:
        return f"Choose {_CHOICES[name]}: {takes.removeprefix('one of ')}"
    return f"{name} must be {takes}"


def parse_gravity(raw: str) -> str:
    """A gravity keyword, or an ``XxY`` focal point written canonically; else ValueError."""
    if raw in GRAVITY_KEYWORDS:
        return raw
    match = _FOCAL.fullmatch(raw)
    if match is None:
        raise ValueError(raw)
    return f"{float(match.group(1)):g}x{float(match.group(2)):g}"


# --- the checks -------------------------------------------------------------------------------


def _whole(value: Any) -> int:
    """A whole number: digits as text, or a JSON integer (or a float with no fraction)."""
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise ValueError(value)
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise ValueError(value)
    return int(value)


def _number(value: Any) -> float:
    """A plain decimal as text (no sign, exponent or spelling of infinity), or a JSON number."""
    if isinstance(value, str):
        if _NUMBER.fullmatch(value) is None:
            raise ValueError(value)
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(value)
    return float(value)


def _in(low: float, high: float, convert: Callable[[Any], Any], *, open_low: bool = False) -> Check:
    def checked(value: Any, _max_side: int) -> Any:
        number = convert(value)
        if number < low or number > high or (open_low and number == low):
            raise ValueError(value)
        return number

    return checked


def _side(value: Any, max_side: int) -> int:
    side = _whole(value)
    if not 1 <= side <= max_side:
        raise ValueError(value)
    return side


def _quality(value: Any, max_side: int) -> int:
    if isinstance(value, str) and value in NAMED_QUALITY:
        return NAMED_QUALITY[value]
    quality: int = _in(1, 100, _whole)(value, max_side)
    return quality


def _text(convert: Callable[[str], Any]) -> Check:
    def checked(value: Any, _max_side: int) -> Any:
        if not isinstance(value, str):
            raise TypeError(value)
        return convert(value)

    return checked


def _background(value: str) -> str:
    match = _HEX.fullmatch(value)
    if match is None:
        raise ValueError(value)
    digits = match.group(1).lower()
    return "#" + (digits if len(digits) == 6 else "".join(c * 2 for c in digits))


def _bool(value: Any, _max_side: int) -> bool:
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise TypeError(value)
    return _BOOLS[value]


#: Every option a named variant takes, with its check; flexible variants take all but the
#: browser TTL, which only an account's owner sets.
NAMED: dict[str, Check] = {
    "width": _side,
    "height": _side,
    "fit": _text(Fit),
    "gravity": _text(parse_gravity),
    "quality": _quality,
    "format": _text(OutputFormat),
    "dpr": _in(0, 2, _number, open_low=True),
    "sharpen": _in(0, 10, _number),
    "blur": _in(0, 250, _number),
    "metadata": _text(MetadataMode),
    "anim": _bool,
    "background": _text(_background),
    "browser_ttl": _in(MIN_BROWSER_TTL, MAX_BROWSER_TTL, _whole),
}
FLEXIBLE = frozenset(NAMED) - {"browser_ttl"}

#: Options whose value is one of a list, and how the choice is asked for.
_CHOICES = {"fit": "a fit", "metadata": "what metadata to keep", "format": "a format"}
#: What each option takes, for the messages (never the value that was refused).
RANGES = {
    "width": "a whole number of pixels from 1 to {max_side}",
    "height": "a whole number of pixels from 1 to {max_side}",
    "fit": "one of " + ", ".join(f.value for f in Fit),
    "gravity": "auto, center, left, right, top, bottom, or XxY with X and Y from 0 to 1",
    "quality": "a whole number from 1 to 100, or " + ", ".join(NAMED_QUALITY),
    "format": "one of " + ", ".join(f.value for f in OutputFormat),
    "dpr": "a number greater than 0, at most 2",
    "sharpen": "a number from 0 to 10",
    "blur": "a number from 0 to 250",
    "metadata": "one of " + ", ".join(m.value for m in MetadataMode),
    "anim": "true or false",
    "background": "a colour written #rgb or #rrggbb",
    "browser_ttl": f"a whole number of seconds from {MIN_BROWSER_TTL} to {MAX_BROWSER_TTL}",
}
