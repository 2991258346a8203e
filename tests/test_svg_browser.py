"""A hostile SVG, uploaded and delivered by a real server, opened in Chromium: no script runs,
not under the delivery's sandbox CSP and not without it (a copy saved and served elsewhere,
or a proxy that drops the header), however its links are animated."""

from __future__ import annotations

from typing import Any

import httpx

from dashboard.browser import browser
from harness import Server

__all__ = ["browser"]

DECOY = 'xmlns:x="urn:decoy" x:attributeName="fill"'
LINKS = [
    # (label, the animation inside the link)
    ("decoy-set", f'<set {DECOY} attributeName="href" to="javascript:alert(1)"/>'),
    ("decoy-animate", f'<animate {DECOY} attributeName="href" values="javascript:alert(2)"/>'),
    ("xlink-set", '<set attributeName="xlink:href" to="javascript:alert(3)"/>'),
    ("padded-set", '<set attributeName=" href " to="javascript:alert(4)"/>'),
    ("values-fill", '<animate attributeName="fill" values="red;javascript:alert(5)"/>'),
]
HOSTILE = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="400" height="400" onload="alert(0)">'
    + "".join(
        f'<a id="{label}"><rect x="0" y="{40 * n}" width="400" height="36" fill="#ccc"/>'
        f'{animation}<text x="10" y="{40 * n + 24}" font-size="20">{label}</text></a>'
        for n, (label, animation) in enumerate(LINKS)
    )
    + "</svg>"
).encode()
ANIMATED_HREFS = """() => Array.from(document.querySelectorAll('a'))
  .map((a) => [a.id, a.href ? a.href.animVal : ''])"""


def test_a_delivered_svg_runs_no_script_when_its_links_are_clicked(
    browser: Any, server: Server
) -> None:
    with server.client() as c:
        answer = c.post(server.images_url, files={"file": ("links.svg", HOSTILE)})
    assert answer.status_code == 200, answer.text
    url = f"{server.base_url}/{server.account_hash}/{answer.json()['result']['id']}/public"
    delivered = httpx.get(url)
    assert delivered.status_code == 200
    assert delivered.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in delivered.headers["content-security-policy"]

    context = browser.new_context()
    context.set_default_timeout(15000)
    # Nothing but loopback: any other request the SVG could make fails the test.
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        if route.request.url.startswith(server.base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    try:
        # The delivered response itself, and the same bytes with no CSP at all.
        bare = f"{server.base_url}/without-csp.svg"
        page = context.new_page()
        page.route(
            bare,
            lambda route: route.fulfill(
                status=200, body=delivered.content, content_type="image/svg+xml"
            ),
        )
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        for where in (url, bare):
            opened = page.goto(where)
            assert opened is not None and opened.status == 200
            page.wait_for_timeout(200)  # let every animation begin
            hrefs = page.evaluate(ANIMATED_HREFS)
            assert [label for label, _ in hrefs] == [label for label, _ in LINKS]
            assert all("javascript" not in href.lower() for _, href in hrefs), hrefs
            for label, _ in LINKS:
                page.click(f"text={label}")
                page.wait_for_timeout(50)
                assert page.url == where, f"{label} navigated to {page.url}"
            assert dialogs == [], f"script ran from {where}: {dialogs}"
        assert outside == []
    finally:
        context.close()
