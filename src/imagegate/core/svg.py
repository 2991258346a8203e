"""SVG sanitising, modelled on Cloudflare's svg-hush: pure, stdlib only, no pyvips.

:func:`sanitize` re-builds the document from an allowlist and returns UTF-8 XML:

- elements: only SVG's drawing vocabulary (shapes, text, gradients, filters, animation,
  ``<style>``) in the SVG namespace or in no namespace. ``<script>``, ``<foreignObject>``,
  XHTML, editor namespaces and anything unknown are dropped with their whole subtree;
- attributes: event handlers (``on*``), ``xml:base``, and every namespaced attribute except
  ``xlink:href``, ``xml:space`` and ``xml:lang`` are dropped. ``href``/``xlink:href``/``src``
  keep only same-document fragments (``#id``), and on ``<image>``/``<feImage>`` a
  ``data:image/png|jpeg|gif|webp`` raster. Attributes are told apart by their expanded
  (namespace, local) name, never by their local name alone. A SMIL animation element
  (``set``, ``animate``, ``animateTransform``, ``animateMotion``) is dropped with its subtree
  if any of its ``attributeName`` attributes, in any namespace, case or spelling, names a
  link (``href``, ``xlink:href``, ``src``), ``style``, ``xml:base`` or an event handler, or if
  a ``values``/``from``/``to``/``by`` holds a ``javascript:``, ``vbscript:`` or ``data:``
  URL, so ``<set>`` and ``<animate>`` cannot turn a link into ``javascript:``;
- CSS (``style=""``, ``<style>``, and any attribute holding ``url(``): every ``url(...)``
  that is not ``#id`` or an allowed raster becomes ``none``; declarations holding a backslash
  (CSS escapes), ``@import`` or a string-taking image function (``image-set(`` ...) are cut;
- comments, processing instructions (``<?xml-stylesheet?>`` too), CDATA markers and the
  DOCTYPE are not copied.

Parser choice: :mod:`xml.parsers.expat` from the standard library, driven event by event,
rather than ``defusedxml``. The protections ``defusedxml`` would add are a handful of expat
handlers, set here explicitly: a DOCTYPE with an internal subset is refused the moment it
opens (so no ``<!ENTITY>``, no billion laughs, no attribute defaults can be declared), any
external entity or skipped entity reference is refused, parameter-entity parsing is off and
expat itself never opens files or sockets. Streaming events also lets the size, depth and
element-count bounds stop the parse early instead of after a tree has been built, and keeps
the original namespace prefixes for the output. Anything malformed or over a bound raises
:class:`~imagegate.core.errors.CorruptImage`.
"""

from __future__ import annotations

import re
from xml.parsers import expat

from imagegate.core.errors import CorruptImage

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 256
MAX_ELEMENTS = 100_000

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

_SEP = "\x1f"  # never legal in XML, so it cannot occur inside a namespace URI or a name

_ELEMENTS = frozenset((
    "a", "animate", "animateMotion", "animateTransform", "circle", "clipPath", "defs", "desc",
    "ellipse", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite",
    "feConvolveMatrix", "feDiffuseLighting", "feDisplacementMap", "feDistantLight",
    "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR", "feGaussianBlur",
    "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset", "fePointLight",
    "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence", "filter", "g", "image", "line",
    "linearGradient", "marker", "mask", "metadata", "mpath", "path", "pattern", "polygon",
    "polyline", "radialGradient", "rect", "set", "stop", "style", "svg", "switch", "symbol",
    "text", "textPath", "title", "tspan", "use", "view",
))  # fmt: skip
_ANIMATIONS = frozenset({"animate", "animateMotion", "animateTransform", "set"})
_RASTER_HOSTS = frozenset({"image", "feImage"})
_DROPPED_ATTRIBUTES = frozenset({"ping", "srcset"})
#: What an animation may never target: links, styles, the base URL and what the filter
#: drops outright (event handlers, every ``on*``, are refused by prefix).
_GUARDED_TARGETS = frozenset({"href", "src", "style", "base", *_DROPPED_ATTRIBUTES})
_ANIMATED_VALUES = frozenset({"values", "from", "to", "by"})
_SCRIPT_URL = re.compile(r"(?:java|vb)script:|data:")
_INVISIBLE = re.compile(
    r"[\x00-\x20\x7f-\xa0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]+"
)

_FRAGMENT = re.compile(r"#[^\s\"'()<>\\]*")
_RASTER = re.compile(
    r"data:image/(?:png|jpeg|jpg|gif|webp)(?:;[a-z0-9._=+-]+)*,[A-Za-z0-9+/=%._~ -]*",
    re.IGNORECASE,
)
_URL_NOISE = re.compile(r"[\t\n\r]")
_CSS_CHUNK = re.compile(r"[^;{},]*[;{},]?")
_CSS_DANGER = re.compile(
    r"\\|@import|image-set\(|image\(|src\(|cross-fade\(|element\(|expression\(|-moz-binding",
    re.IGNORECASE,
)
_URL_OPEN = re.compile(r"url\(", re.IGNORECASE)
_URL_ARG = re.compile(r"\s*(?:\"([^\"\n]*)\"|'([^'\n]*)'|([^\s\"'()]*))\s*\)")


class _Refused(Exception):
    """Raised inside an expat handler; it unwinds the parse."""


def sanitize(data: bytes, *, keep_metadata: bool = True) -> bytes:
    """The SVG with scripting, external references and DTD features removed, as UTF-8.
    ``keep_metadata`` False also drops every ``<metadata>`` element (authors, licences,
    RDF that may hold places), as ``metadata: copyright`` and ``none`` promise.

    Raises :class:`CorruptImage` if ``data`` is not well-formed XML with an ``<svg>`` root,
    declares entities, or is over 10 MB, 256 levels deep or 100,000 elements.
    """
    if len(data) > MAX_BYTES:
        raise CorruptImage("The SVG is over 10 MB")
    return _Sanitizer(keep_metadata).run(data)


def safe_url(value: str, *, raster: bool = False) -> str | None:
    """The cleaned reference if it stays inside the document, else None. ``raster`` also
    lets an inline PNG, JPEG, GIF or WebP ``data:`` URL through."""
    url = _URL_NOISE.sub("", value).strip(" ")
    if _FRAGMENT.fullmatch(url) or (raster and _RASTER.fullmatch(url)):
        return url
    return None


def filter_css(text: str) -> str:
    """CSS with every non-local ``url()`` turned into ``none`` and risky declarations cut.

    Cuts happen at ``; { } ,`` so the remaining text cannot fuse into a new token; braces
    are kept so the rule structure stays balanced.
    """
    kept = []
    for chunk in _CSS_CHUNK.findall(text):
        if _CSS_DANGER.search(chunk):
            kept.append(chunk[-1] if chunk.endswith(("{", "}")) else "")
        else:
            kept.append(chunk)
    css = "".join(kept)
    out, pos = [], 0
    for opening in _URL_OPEN.finditer(css):
        if opening.start() < pos:
            continue  # inside a url() already replaced
        out.append(css[pos : opening.start()])
        arg = _URL_ARG.match(css, opening.end())
        target = None if arg is None else next(g for g in arg.groups() if g is not None)
        url = None if target is None else safe_url(target, raster=True)
        out.append("none" if url is None else f"url({url})")
        if arg is not None:
            pos = arg.end()
        else:
            close = css.find(")", opening.end())
            pos = len(css) if close < 0 else close + 1
    out.append(css[pos:])
    return "".join(out)


def _split(name: str) -> tuple[str | None, str, str | None]:
    """expat's ``uri SEP local SEP prefix`` into (namespace, local name, prefix)."""
    parts = name.split(_SEP)
    if len(parts) == 1:
        return None, parts[0], None
    return parts[0], parts[1], parts[2] if len(parts) > 2 else None


def _qname(local: str, prefix: str | None) -> str:
    return f"{prefix}:{local}" if prefix else local


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    escaped = _text(value).replace('"', "&quot;")
    return escaped.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


class _Sanitizer:
    """One pass of expat events, copying what is allowed into ``out``."""

    def __init__(self, keep_metadata: bool = True) -> None:
        self.keep_metadata = keep_metadata
        self.out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']
        self.open: list[str] = []  # qualified names of the kept elements being written
        self.tag_open = False  # the innermost kept start tag still lacks its ">"
        self.namespaces: list[tuple[str | None, str | None]] = []
        self.depth = 0
        self.elements = 0
        self.skipping = 0  # depth inside a dropped subtree
        self.css: list[str] | None = None  # text of the <style> being read

    def run(self, data: bytes) -> bytes:
        parser = expat.ParserCreate(namespace_separator=_SEP)
        parser.namespace_prefixes = True
        parser.ordered_attributes = True
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self.doctype
        parser.EntityDeclHandler = self.refuse
        parser.UnparsedEntityDeclHandler = self.refuse
        parser.ExternalEntityRefHandler = self.refuse
        parser.SkippedEntityHandler = self.refuse
        parser.StartNamespaceDeclHandler = self.namespace
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.characters
        try:
            parser.Parse(data, True)
        except (expat.ExpatError, _Refused, ValueError) as exc:
            raise CorruptImage(f"Unsafe or malformed SVG: {exc}") from exc
        if self.elements == 0:
            raise CorruptImage("Not an SVG document")
        return "".join(self.out).encode("utf-8")

    # --- parser handlers ---

    def refuse(self, *_: object) -> int:
        raise _Refused("entities are not allowed")

    def doctype(self, name: str, _sysid: str | None, _pubid: str | None, internal: int) -> None:
        if internal:
            raise _Refused("a DOCTYPE with an internal subset is not allowed")

    def namespace(self, prefix: str | None, uri: str | None) -> None:
        self.namespaces.append((prefix, uri))

    def start(self, name: str, attributes: list[str]) -> None:
        self.depth += 1
        self.elements += 1
        if self.depth > MAX_DEPTH or self.elements > MAX_ELEMENTS:
            raise _Refused("the document is too deep or too large")
        declared, self.namespaces = self.namespaces, []
        namespace, local, prefix = _split(name)
        if self.depth == 1 and (local != "svg" or namespace not in (None, SVG_NS)):
            raise _Refused("the root element is not <svg>")
        if self.skipping or self.css is not None or not self._allowed(namespace, local):
            self.skipping += 1
            return
        if local == "metadata" and not self.keep_metadata:
            self.skipping += 1
            return
        pairs = list(zip(attributes[::2], attributes[1::2], strict=True))
        if local in _ANIMATIONS and _animates_danger(pairs):
            self.skipping += 1
            return
        self._close_start_tag()
        tag = [f"<{_qname(local, prefix)}"]
        for ns_prefix, uri in declared:
            if uri in (SVG_NS, XLINK_NS) or (ns_prefix is None and not uri):
                tag.append(f" {_qname(ns_prefix, 'xmlns') if ns_prefix else 'xmlns'}")
                tag.append(f'="{_attr(uri or "")}"')
        for raw, value in pairs:
            kept = _filter_attribute(raw, value, local)
            if kept is not None:
                tag.append(f' {kept[0]}="{_attr(kept[1])}"')
        self.out.append("".join(tag))
        self.open.append(_qname(local, prefix))
        self.tag_open = True
        if local == "style":
            self.css = []

    def end(self, _name: str) -> None:
        self.depth -= 1
        if self.skipping:
            self.skipping -= 1
            return
        if self.css is not None:
            css, self.css = "".join(self.css), None
            if css:
                self._close_start_tag()
                self.out.append(_text(filter_css(css)))
        qname = self.open.pop()
        self.out.append("/>" if self.tag_open else f"</{qname}>")
        self.tag_open = False

    def characters(self, text: str) -> None:
        if self.skipping:
            return
        if self.css is not None:
            self.css.append(text)
            return
        self._close_start_tag()
        self.out.append(_text(text))

    # --- helpers ---

    @staticmethod
    def _allowed(namespace: str | None, local: str) -> bool:
        return namespace in (None, SVG_NS) and local in _ELEMENTS

    def _close_start_tag(self) -> None:
        if self.tag_open:
            self.out.append(">")
            self.tag_open = False


def _animates_danger(pairs: list[tuple[str, str]]) -> bool:
    """True if a SMIL element could animate a link, a style, ``xml:base`` or an event
    handler, or carries a script or data URL among the values it animates to.

    Every attribute is looked at, whatever its order: browsers read only the plain
    ``attributeName``, but any ``attributeName`` (in any namespace, in any case) that names
    a dangerous target refuses the element, so no spelling of it can hide the one that
    counts behind a decoy.
    """
    for raw, value in pairs:
        local = _split(raw)[1].lower()
        if local == "attributename" and _dangerous_target(value):
            return True
        if local in _ANIMATED_VALUES and _SCRIPT_URL.search(_squeeze(value)):
            return True
    return False


def _dangerous_target(value: str) -> bool:
    """Whether an ``attributeName`` value names a link, style, base or event attribute,
    with any prefix, case, whitespace or control characters."""
    target = _squeeze(value).rpartition(":")[2]
    return target in _GUARDED_TARGETS or target.startswith("on")


def _squeeze(value: str) -> str:
    """``value`` lowercased without whitespace or control characters (which browsers skip
    or trim in URLs and names)."""
    return _INVISIBLE.sub("", value).lower()


def _filter_attribute(raw: str, value: str, element: str) -> tuple[str, str] | None:
    """The (qualified name, value) to write, or None to drop the attribute."""
    namespace, local, prefix = _split(raw)
    name = _qname(local, prefix)
    if namespace == XML_NS:
        return (name, value) if local in ("space", "lang") else None
    if namespace == XLINK_NS and local == "href":
        url = safe_url(value, raster=element in _RASTER_HOSTS)
        return None if url is None else (name, url)
    if namespace is not None:
        return None
    lowered = local.lower()
    if lowered.startswith("on") or lowered in _DROPPED_ATTRIBUTES:
        return None
    if lowered in ("href", "src"):
        url = safe_url(value, raster=element in _RASTER_HOSTS)
        return None if url is None else (name, url)
    if lowered == "style" or "url(" in value.lower() or "\\" in value:
        return name, filter_css(value)
    return name, value
