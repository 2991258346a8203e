"""svg: hostile SVG comes out without its scripts, links and external references, or is refused.

Outputs are parsed and inspected element by element; harmless drawing must survive.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagegate.core.errors import CorruptImage
from imagegate.core.svg import SVG_NS, XLINK_NS, filter_css, sanitize

NS = f"{{{SVG_NS}}}"
XLINK_HREF = f"{{{XLINK_NS}}}href"
PNG_DATA = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"

HARMLESS = (
    '<defs><linearGradient id="grad"><stop offset="0" stop-color="#f00"/>'
    '<stop offset="1" stop-color="#00f"/></linearGradient></defs>'
    '<circle id="c" cx="50" cy="50" r="40" fill="url(#grad)" style="stroke:#000;stroke-width:2"/>'
    '<text x="10" y="95" font-family="serif">Hello &amp; welcome</text>'
    '<use href="#c" x="5"/>'
)


def document(body: str, root_attributes: str = "", prolog: str = "") -> bytes:
    return (
        f'{prolog}<svg xmlns="{SVG_NS}" xmlns:xlink="{XLINK_NS}" width="100" height="100"'
        f" {root_attributes}>{HARMLESS}{body}</svg>"
    ).encode()


def parse(data: bytes) -> ET.Element:
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(data)


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def assert_harmless_kept(root: ET.Element) -> None:
    assert root.tag == NS + "svg" and root.get("width") == "100"
    circle = root.find(f"{NS}circle")
    assert circle is not None
    assert circle.get("r") == "40" and circle.get("fill") == "url(#grad)"
    assert circle.get("style") == "stroke:#000;stroke-width:2"
    stops = root.findall(f"{NS}defs/{NS}linearGradient/{NS}stop")
    assert [s.get("stop-color") for s in stops] == ["#f00", "#00f"]
    text = root.find(f"{NS}text")
    assert text is not None and text.text == "Hello & welcome"
    use = root.find(f"{NS}use")
    assert use is not None and use.get("href") == "#c"


def all_attributes(root: ET.Element) -> list[tuple[str, str, str]]:
    return [(local(e.tag), name, value) for e in root.iter() for name, value in e.attrib.items()]


# (case id, body, root attributes, prolog)
HOSTILE = [
    ("script", "<script>alert(1)</script>", "", ""),
    ("script-cdata", "<script><![CDATA[alert(1)]]></script>", "", ""),
    (
        "script-prefixed",
        '<s:script xmlns:s="http://www.w3.org/2000/svg">alert(1)</s:script>',
        "",
        "",
    ),
    (
        "xhtml-script",
        '<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>',
        "",
        "",
    ),
    ("onload", "", 'onload="alert(1)"', ""),
    (
        "onclick-nested",
        '<g onclick="alert(1)" ONMOUSEOVER="alert(2)"><rect width="1"/></g>',
        "",
        "",
    ),
    (
        "foreignObject",
        '<foreignObject width="9" height="9"><body xmlns="http://www.w3.org/1999/xhtml">'
        '<iframe src="https://evil.example/"/></body></foreignObject>',
        "",
        "",
    ),
    (
        "iframe",
        '<iframe xmlns="http://www.w3.org/1999/xhtml" src="https://evil.example/"/>',
        "",
        "",
    ),
    ("xlink-image", '<image xlink:href="http://evil.example/x.png" width="9"/>', "", ""),
    ("use-external", '<use href="https://evil.example/sprite.svg#a"/>', "", ""),
    ("use-xlink-external", '<use xlink:href="//evil.example/sprite.svg#a"/>', "", ""),
    ("style-url", '<rect width="9" style="background:url(http://evil.example/t.png)"/>', "", ""),
    ("style-url-escaped", '<rect style="fill:u\\72l(http://evil.example/)"/>', "", ""),
    ("fill-url", '<rect width="9" fill="url(https://evil.example/g.svg#g)"/>', "", ""),
    ("javascript-link", '<a href="javascript:alert(1)"><text>x</text></a>', "", ""),
    ("javascript-xlink", '<a xlink:href=" JaVaScRiPt:alert(1)"><text>x</text></a>', "", ""),
    ("http-link", '<a href="https://evil.example/phish"><text>x</text></a>', "", ""),
    (
        "animate-href",
        '<a><animate attributeName="href" values="javascript:alert(1)"/><text>x</text></a>',
        "",
        "",
    ),
    ("set-onclick", '<set attributeName="onclick" to="alert(1)"/>', "", ""),
    (
        "style-element",
        "<style>@import url(http://evil.example/a.css); @import 'http://evil.example/b.css';"
        ".x{fill:url(http://evil.example/#g)} .y{background:image-set('http://evil.example/' 1x)}"
        "</style>",
        "",
        "",
    ),
    ("stylesheet-pi", "", "", '<?xml-stylesheet href="http://evil.example/s.css"?>'),
    ("data-html", '<image href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;"/>', "", ""),
    ("data-svg", '<image href="data:image/svg+xml;base64,PHN2Zy8+" width="9"/>', "", ""),
    ("xml-base", '<g xml:base="http://evil.example/"><use href="#c"/></g>', "", ""),
    ("ping", '<a href="#c" ping="http://evil.example/track"><text>x</text></a>', "", ""),
]


@pytest.mark.parametrize(
    ("body", "root_attributes", "prolog"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_parts_removed(body: str, root_attributes: str, prolog: str) -> None:
    out = sanitize(document(body, root_attributes, prolog))
    root = parse(out)
    assert_harmless_kept(root)
    lowered = out.lower()
    for marker in (b"alert", b"evil.example", b"javascript", b"<?xml-stylesheet"):
        assert marker not in lowered
    tags = {local(e.tag) for e in root.iter()}
    assert not tags & {"script", "foreignObject", "iframe", "body", "animate", "set"}
    assert {e.tag.partition("}")[0] for e in root.iter()} == {"{" + SVG_NS}
    for _, name, value in all_attributes(root):
        assert not local(name).lower().startswith("on")
        assert "base" not in name
        if local(name) == "href":
            assert value.startswith("#") or value.startswith("data:image/png")


def test_fragments_and_raster_images_kept() -> None:
    body = (
        f'<image href="{PNG_DATA}" width="1" height="1"/>'
        f'<image xlink:href="#c"/><a href="#c"><text>jump</text></a>'
        '<rect width="9" style="fill:url( \'#grad\' )"/>'
    )
    root = parse(sanitize(document(body)))
    assert_harmless_kept(root)
    images = root.findall(f"{NS}image")
    assert images[0].get("href") == PNG_DATA
    assert images[1].get(XLINK_HREF) == "#c"
    link = root.find(f"{NS}a")
    assert link is not None and link.get("href") == "#c"
    rect = root.find(f"{NS}rect")
    assert rect is not None and rect.get("style") == "fill:url(#grad)"


REFUSED = {
    "billion-laughs": (
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;">]>'
        f'<svg xmlns="{SVG_NS}"><text>&d;</text></svg>'
    ),
    "external-entity": (
        '<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f'<svg xmlns="{SVG_NS}"><text>&xxe;</text></svg>'
    ),
    "parameter-entity": (
        f'<!DOCTYPE svg [<!ENTITY % p SYSTEM "http://127.0.0.1:22/">%p;]><svg xmlns="{SVG_NS}"/>'
    ),
    "attlist-default": (
        f'<!DOCTYPE svg [<!ATTLIST svg onload CDATA "alert(1)">]><svg xmlns="{SVG_NS}"/>'
    ),
    "undeclared-entity": f'<svg xmlns="{SVG_NS}"><text>&nbsp;</text></svg>',
    "skipped-entity": (
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
        f'<svg xmlns="{SVG_NS}"><text>&nbsp;</text></svg>'
    ),
    "unclosed": f'<svg xmlns="{SVG_NS}"><g><rect/></svg>',
    "not-xml": "<svg <<<",
    "empty": "",
    "html-root": '<html><svg xmlns="http://www.w3.org/2000/svg"/></html>',
    "script-root": f'<script xmlns="{SVG_NS}">alert(1)</script>',
    "two-roots": f'<svg xmlns="{SVG_NS}"/><svg xmlns="{SVG_NS}"/>',
    "too-deep": f'<svg xmlns="{SVG_NS}">' + "<g>" * 300 + "</g>" * 300 + "</svg>",
    "too-many": f'<svg xmlns="{SVG_NS}">' + "<g/>" * 100_001 + "</svg>",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused(name: str) -> None:
    # CPU time of this process, not wall time: a loaded machine must not fail the bound,
    # which is there to catch work that grows without limit (entity expansion, deep trees).
    started = time.process_time()
    with pytest.raises(CorruptImage):
        sanitize(REFUSED[name].encode())
    assert time.process_time() - started < 5.0


def test_refuses_over_10_mb_without_parsing() -> None:
    data = document("<!--" + "x" * (10 * 1024 * 1024) + "-->")
    started = time.process_time()
    with pytest.raises(CorruptImage):
        sanitize(data)
    assert time.process_time() - started < 0.5


def test_deep_but_within_bounds_is_fine() -> None:
    data = f'<svg xmlns="{SVG_NS}">{"<g>" * 250}<rect width="1"/>{"</g>" * 250}</svg>'
    root = parse(sanitize(data.encode()))
    assert len(list(root.iter(f"{NS}g"))) == 250


def test_prolog_comments_and_public_doctype_dropped() -> None:
    data = document(
        "<!-- a comment --><?pi data?>",
        prolog='<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- logo -->\n'
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n',
    )
    out = sanitize(data)
    assert b"<!--" not in out and b"DOCTYPE" not in out and b"<?pi" not in out
    assert_harmless_kept(parse(out))


def test_utf16_input_comes_out_utf8() -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        f'<svg xmlns="{SVG_NS}"><text>h\u00e9llo \u2603</text></svg>'
    )
    out = sanitize(text.encode("utf-16"))
    root = parse(out)
    assert root[0].text == "h\u00e9llo \u2603" and "h\u00e9llo".encode() in out


def test_prefixed_svg_and_unknown_namespaces() -> None:
    data = (
        b'<s:svg xmlns:s="http://www.w3.org/2000/svg" xmlns:ink="http://www.inkscape.org/ns"'
        b' xmlns:xl="http://www.w3.org/1999/xlink" ink:version="1" xml:space="preserve">'
        b'<s:circle r="4" ink:label="x"/><ink:grid/><s:use xl:href="#a" xl:title="t"/></s:svg>'
    )
    out = sanitize(data)
    root = parse(out)
    assert root.tag == NS + "svg" and [local(e.tag) for e in root] == ["circle", "use"]
    assert root.attrib == {"{http://www.w3.org/XML/1998/namespace}space": "preserve"}
    assert root[0].attrib == {"r": "4"} and root[1].attrib == {XLINK_HREF: "#a"}
    assert b"inkscape" not in out


def test_style_element_keeps_plain_css() -> None:
    css = (
        ".a > .b { fill: #f00; stroke: url(#grad) } @media (min-width: 10px) { .c { opacity: .5 } }"
    )
    root = parse(sanitize(document(f"<style><![CDATA[{css}]]></style>")))
    style = root.find(f"{NS}style")
    assert style is not None and style.text == css


def test_idempotent() -> None:
    once = sanitize(document("<script>x</script>", 'onload="x"'))
    assert sanitize(once) == once


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ("fill: red", "fill: red"),
        ("fill: url(#a)", "fill: url(#a)"),
        ("fill: URL( '#a' )", "fill: url(#a)"),
        ("background: url(http://evil.example/x)", "background: none"),
        ("background: url( //evil.example/x )", "background: none"),
        ('background: url("javascript:alert(1)")', "background: none"),
        ("background: url(x.png)", "background: none"),  # relative: still not this document
        (f"background: url({PNG_DATA})", f"background: url({PNG_DATA})"),
        ("background: url(data:text/html,x)", "background: none"),
        ("fill: url(#a", "fill: none"),  # unclosed
        ("a:url(url(#a))", "a:none)"),
        ("color: red; background: u\\72l(http://evil.example)", "color: red;"),
        ("@import 'x.css'; fill: red", " fill: red"),
        ("@IMPORT url(x.css); fill: red", " fill: red"),
        ("a { b: image-set('x.png' 1x) } c { d: e }", "a {} c { d: e }"),
        ("fill: red; /* url(http://evil.example) */", "fill: red; /* none */"),
    ],
)
def test_filter_css(css: str, expected: str) -> None:
    assert filter_css(css) == expected


# --- SMIL animations of links and handlers ------------------------------------------------------

DECOY = 'xmlns:x="urn:decoy" x:attributeName="fill"'

#: Animation elements that could make a link run script or an element fire a handler, each
#: in a spelling that once got through or that a browser might honour. Each must go, with
#: its subtree.
ANIMATING_DANGER = {
    # A namespaced attributeName before the plain one was taken for the target.
    "set-decoy-first": f'<a><set {DECOY} attributeName="href" to="javascript:alert(1)"/>'
    "<text>x</text></a>",
    "set-decoy-xml-lang": '<a><set xml:lang="en" attributeName="href" to="javascript:alert(1)"/>'
    "<text>x</text></a>",
    "set-decoy-svg-ns": '<a><set xmlns:s="http://www.w3.org/2000/svg" s:attributeName="fill" '
    'attributeName="href" to="javascript:alert(1)"/><text>x</text></a>',
    "set-decoy-xlink-ns": '<a><set xlink:attributeName="fill" attributeName="href" '
    'to="javascript:alert(1)"/><text>x</text></a>',
    "set-decoy-after": f'<a><set attributeName="href" {DECOY} to="javascript:alert(1)"/>'
    "<text>x</text></a>",
    "animate-decoy-values": f'<a><animate {DECOY} attributeName="href" '
    'values="#c;javascript:alert(1)" dur="1s"/><text>x</text></a>',
    "animate-decoy-from": f'<a><animate {DECOY} attributeName="href" from="javascript:alert(1)" '
    'to="#c"/><text>x</text></a>',
    "animate-decoy-by": f'<a><animate {DECOY} attributeName="href" by="javascript:alert(1)"/>'
    "<text>x</text></a>",
    "animateTransform-decoy": f'<a><animateTransform {DECOY} attributeName="href" '
    'to="javascript:alert(1)"/><text>x</text></a>',
    "animateMotion-decoy": f'<a><animateMotion {DECOY} attributeName="href" '
    'to="javascript:alert(1)"/><text>x</text></a>',
    # Spellings of the target.
    "xlink-href": '<a><set attributeName="xlink:href" to="javascript:alert(1)"/><text>x</text></a>',
    "other-prefix-href": '<a xmlns:l="http://www.w3.org/1999/xlink"><set attributeName="l:href" '
    'to="javascript:alert(1)"/><text>x</text></a>',
    "upper-href": '<a><set attributeName="HREF" to="javascript:alert(1)"/><text>x</text></a>',
    "padded-href": '<a><set attributeName=" \t\nhref\n " to="javascript:alert(1)"/>'
    "<text>x</text></a>",
    "tab-inside-href": '<a><set attributeName="xlink:&#9;href" to="javascript:alert(1)"/>'
    "<text>x</text></a>",
    "char-ref-href": '<a><set attributeName="&#104;ref" to="javascript:alert(1)"/>'
    "<text>x</text></a>",
    "src": '<image width="9"><set attributeName="src" to="https://evil.example/x.png"/></image>',
    "style": '<rect width="9"><set attributeName="style" to="fill:red;alert:1"/></rect>',
    "xml-base": '<g><set attributeName="xml:base" to="https://evil.example/"/></g>',
    # Event handlers, any case, any prefix.
    "onclick": '<rect width="9"><set attributeName="onclick" to="alert(1)"/></rect>',
    "onmouseover-upper": '<rect width="9"><set attributeName="ONMOUSEOVER" to="alert(1)"/></rect>',
    "onload-prefixed": '<rect width="9"><set attributeName="x:onload" to="alert(1)"/></rect>',
    "onbegin-decoy": f'<rect width="9"><animate {DECOY} attributeName="onbegin" '
    'values="alert(1)"/></rect>',
    # A script URL among the values, whatever the attribute named.
    "values-javascript": '<a><animate attributeName="fill" values="red;javascript:alert(1)"/>'
    "<text>x</text></a>",
    "to-javascript-spaced": '<a><set attributeName="fill" to=" java&#10;script:alert(1)"/>'
    "<text>x</text></a>",
    "from-vbscript": '<a><animate attributeName="fill" from="VBScript:alert(1)" to="red"/>'
    "<text>x</text></a>",
    "by-data": '<a><animate attributeName="fill" by="data:text/html,alert(1)"/><text>x</text></a>',
}


@pytest.mark.parametrize("body", list(ANIMATING_DANGER.values()), ids=list(ANIMATING_DANGER))
def test_animations_of_links_and_handlers_are_dropped(body: str) -> None:
    out = sanitize(document(body))
    root = parse(out)
    assert_harmless_kept(root)
    assert not {local(e.tag) for e in root.iter()} & {
        "set",
        "animate",
        "animateTransform",
        "animateMotion",
    }
    lowered = out.lower()
    for marker in (b"alert", b"evil.example", b"javascript", b"vbscript", b"data:text"):
        assert marker not in lowered


HARMLESS_ANIMATIONS = {
    "fade": '<rect width="9"><animate attributeName="opacity" values="0;1;0" dur="2s"/></rect>',
    "colour": '<rect width="9"><set attributeName="fill" to="red" begin="click"/></rect>',
    "spin": '<rect width="9"><animateTransform attributeName="transform" type="rotate" '
    'from="0 5 5" to="360 5 5" dur="1s" repeatCount="indefinite"/></rect>',
    "motion": '<rect width="9"><animateMotion path="M0,0 L9,9" dur="1s"/></rect>',
    "one-decoy-dropped": f'<rect width="9"><set {DECOY} attributeName="fill" to="red"/></rect>',
    "fragment-fill": '<rect width="9"><set attributeName="fill" to="url(#grad)"/></rect>',
}


@pytest.mark.parametrize("body", list(HARMLESS_ANIMATIONS.values()), ids=list(HARMLESS_ANIMATIONS))
def test_harmless_animations_survive(body: str) -> None:
    root = parse(sanitize(document(body)))
    assert_harmless_kept(root)
    animations = [e for e in root.iter() if local(e.tag).startswith(("animate", "set"))]
    assert len(animations) == 1
    # Only plain attributes are written: a decoy in another namespace is gone.
    assert all("}" not in name for name in animations[0].attrib)
    assert "attributeName" in animations[0].attrib or local(animations[0].tag) == "animateMotion"


_PREFIXES = st.sampled_from(["", "xlink:", "x:", "svg:", "XLINK:", " xlink :", "a:b:"])
_TARGETS = st.sampled_from(["href", "HREF", "Href", "onclick", "onload", "OnBegin", "src", "style"])
_PADDING = st.sampled_from(["", " ", "\t", "\n", "&#10;", "&#9;", "\u00a0", "\u200b"])
_DECOY_NAMESPACES = st.sampled_from(
    ["urn:decoy", SVG_NS, XLINK_NS, "http://www.w3.org/1999/xhtml", "HTTP://WWW.W3.ORG/2000/SVG"]
)
_DECOY_VALUES = st.sampled_from(["fill", "opacity", "#c", "href", "x"])
_PAYLOAD = st.sampled_from(["to", "values", "from", "by"])


@settings(max_examples=300, deadline=None)
@given(
    element=st.sampled_from(["set", "animate", "animateTransform", "animateMotion"]),
    element_prefix=st.sampled_from(["", "s:"]),
    target=st.tuples(_PADDING, _PREFIXES, _TARGETS, _PADDING).map("".join),
    decoys=st.lists(
        st.tuples(_DECOY_NAMESPACES, _DECOY_VALUES), max_size=3, unique_by=lambda d: d[0]
    ),
    payload=_PAYLOAD,
    order=st.randoms(use_true_random=False),
)
def test_no_attribute_order_or_spelling_smuggles_an_animated_link(
    element: str,
    element_prefix: str,
    target: str,
    decoys: list[tuple[str, str]],
    payload: str,
    order: object,
) -> None:
    """Whatever the order of a dangerous ``attributeName`` and any number of namespaced
    decoys, and however the target and the namespaces are spelled, no animation of a link,
    style or handler comes out."""
    import random

    assert isinstance(order, random.Random)
    declarations = [f'xmlns:s="{SVG_NS}"']
    attributes = [f'attributeName="{target}"', f'{payload}="javascript:alert(1)"']
    for n, (namespace, value) in enumerate(decoys):
        declarations.append(f'xmlns:d{n}="{namespace}"')
        attributes.append(f'd{n}:attributeName="{value}"')
    order.shuffle(attributes)
    tag = element_prefix + element
    body = f"<a>{'<' + tag} {' '.join(declarations + attributes)}/><text>x</text></a>"
    out = sanitize(document(body))
    root = parse(out)
    assert b"javascript" not in out.lower() and b"alert" not in out
    for found in root.iter():
        if local(found.tag) in ("set", "animate", "animateTransform", "animateMotion"):
            name = "".join(found.get("attributeName", "").split()).lower()
            name = name.rpartition(":")[2]
            assert name not in ("href", "src", "style") and not name.startswith("on")
