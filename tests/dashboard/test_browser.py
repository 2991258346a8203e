"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real
server: every step a person takes, with screenshots of every page at desktop and phone
width in test-artifacts/dashboard/, and no error allowed in the browser console."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from dashboard.browser import Watched
from harness import Server, jpeg, png

PAGES = ["/dashboard/images", "/dashboard/variants", "/dashboard/keys", "/dashboard/settings"]


def _upload_by_api(server: Server, name: str, data: bytes, private: bool = False) -> str:
    with server.client() as c:
        answer = c.post(
            server.images_url,
            files={"file": (name, data)},
            data={"requireSignedURLs": str(private).lower()},
        )
        assert answer.status_code == 200, answer.text
        image_id: str = answer.json()["result"]["id"]
        return image_id


def test_upload_make_private_and_serve_through_a_signed_url(
    watched: Watched, dash: Server, tmp_path: Path
) -> None:
    page = watched.page
    watched.go("/dashboard/signin")
    watched.snap("signin")
    watched.sign_in()
    watched.snap("images-empty")
    assert "No images yet" in page.inner_text("main")

    # Two files at once, each with its own progress.
    first, second = tmp_path / "harbour.jpg", tmp_path / "diagram.png"
    first.write_bytes(jpeg(1200, 800))
    second.write_bytes(png(640, 480))
    page.set_input_files("#files", [str(first), str(second)])
    page.wait_for_function(
        "() => document.querySelectorAll('[data-upload-list] li[data-state=done]').length === 2"
    )
    assert page.inner_text("[data-upload-status]") == "2 of 2 files finished."
    assert page.eval_on_selector_all(
        "[data-upload-list] progress", "(b) => b.map((p) => p.value)"
    ) == [
        100,
        100,
    ]
    # The grid shows them without a reload.
    page.wait_for_function("() => document.querySelectorAll('li.tile').length === 2")
    watched.snap("images-uploaded")
    tiles = page.locator("li.tile")
    watched.snap("images")

    # Make the harbour private; its thumbnail still shows (rendered for the session).
    harbour = tiles.filter(has=page.locator("img[alt='harbour.jpg']"))
    harbour.get_by_role("button", name=re.compile("Make private")).click()
    page.wait_for_url("**/dashboard/images?done=private")
    harbour = page.locator("li.tile").filter(has=page.locator("img[alt='harbour.jpg']"))
    assert "Private" in harbour.inner_text()
    watched.wait_for_images()
    assert watched.natural_size("img[alt='harbour.jpg']") == (240, 240)
    assert dash.signing_key not in page.content()

    # The detail page lists every variant URL, signed on the server.
    harbour.locator("a.thumb-link").click()
    page.wait_for_url("**/dashboard/image?id=*")
    watched.snap("image-private")
    listed = page.input_value("#url-1")
    assert "exp=" in listed and "sig=" in listed
    assert dash.signing_key not in page.content()

    # The generator: variant, lifetime, copy, preview.
    page.select_option("#gen-variant", "public")
    page.check("#life-86400")
    assert page.is_hidden("[data-custom-life]")
    page.check("#life-custom")
    assert page.is_visible("[data-custom-life]")
    page.check("#life-86400")
    page.get_by_role("button", name="Generate the signed URL").click()
    page.wait_for_selector("#signed-url")
    signed = page.input_value("#signed-url")
    assert signed.startswith(dash.base_url + f"/{dash.account_hash}/")
    page.wait_for_function("() => document.getElementById('signed-preview').naturalWidth > 0")
    assert watched.natural_size("#signed-preview") == (1200, 800)
    page.click("[data-copy=signed-url]")
    page.wait_for_function("() => document.querySelector('[data-announce]').textContent !== ''")
    assert page.evaluate("navigator.clipboard.readText()") == signed
    watched.snap("image-signed-url")

    # Open it in a new tab: it renders. (A bare image document also asks the server for
    # /favicon.ico, which is not under test here: the browser is answered for it.)
    tab = watched.watch(page.context.new_page())
    tab.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=b""))
    opened = tab.goto(signed)
    assert opened is not None and opened.status == 200
    assert opened.headers["content-type"].startswith("image/")
    assert tab.evaluate("document.images[0].naturalWidth") == 1200
    tab.close()

    # Tamper with it: 403, Cloudflare's words.
    raw = page.context.new_page()
    for tampered in (
        signed[:-1] + ("0" if signed[-1] != "0" else "1"),
        re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 1}", signed),
        signed.split("?")[0],
    ):
        refused = raw.goto(tampered)
        assert refused is not None and refused.status == 403
        assert "ERROR 9425" in raw.inner_text("body")
    raw.close()


def test_uploads_appear_in_the_grid_as_they_finish_without_a_reload(
    watched: Watched, dash: Server, tmp_path: Path
) -> None:
    """The grid, its count and its thumbnails follow the uploads made on the page: no
    reload (the page's own state survives), no click on a refresh link."""
    _upload_by_api(dash, "earlier.png", png(320, 200))
    page = watched.page
    watched.sign_in()
    assert page.locator("li.tile").count() == 1
    assert page.inner_text("[data-held]").startswith("1 of ")
    page.evaluate("window.sameDocument = true")  # gone if the page is loaded again

    files = []
    for n, (width, height) in enumerate([(640, 480), (300, 600), (1024, 256)]):
        path = tmp_path / f"batch-{n}.jpg"
        path.write_bytes(jpeg(width, height))
        files.append(str(path))
    page.set_input_files("#files", files)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-upload-list] li[data-state=done]').length === 3"
    )
    page.wait_for_function("() => document.querySelectorAll('li.tile').length === 4")
    assert page.evaluate("window.sameDocument") is True
    assert page.inner_text("[data-upload-status]") == "3 of 3 files finished."
    assert page.inner_text("[data-held]").startswith("4 of ")
    assert page.is_visible("[data-upload-shown]") and page.is_hidden("[data-upload-done]")
    names = page.eval_on_selector_all("li.tile img", "(imgs) => imgs.map((i) => i.alt)")
    assert sorted(names) == ["batch-0.jpg", "batch-1.jpg", "batch-2.jpg", "earlier.png"]
    for name in names:  # lazy: each loads once scrolled to
        thumb = f"li.tile img[alt='{name}']"
        page.locator(thumb).scroll_into_view_if_needed()
        page.wait_for_function(f'() => document.querySelector("{thumb}").naturalWidth > 0')
        assert watched.natural_size(thumb) == (240, 240)

    # The new tiles are whole: their actions work like any other's.
    tile = page.locator("li.tile").filter(has=page.locator("img[alt='batch-1.jpg']"))
    tile.get_by_role("button", name=re.compile("Make private")).click()
    page.wait_for_url("**/dashboard/images?done=private")
    tile = page.locator("li.tile").filter(has=page.locator("img[alt='batch-1.jpg']"))
    assert "Private" in tile.inner_text()


def test_an_upload_that_is_refused_says_why(watched: Watched, dash: Server, tmp_path: Path) -> None:
    watched.allow(
        r"status of 415 .*\[http://127\.0\.0\.1:\d+/dashboard/images/upload\]"
    )  # the refused upload, as the browser logs it
    page = watched.page
    watched.sign_in()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    page.set_input_files("#files", [str(notes)])
    page.wait_for_selector("[data-upload-list] li[data-state=failed]")
    assert page.inner_text("[data-upload-list] li .state") == "Failed: Unsupported image format"
    watched.snap("images-upload-refused")


def test_create_and_delete_a_key(watched: Watched, dash: Server) -> None:
    page = watched.page
    watched.sign_in()
    page.click("nav >> text=Keys")
    page.wait_for_url("**/dashboard/keys")
    watched.snap("keys")
    default = page.locator("tr[data-key=default]")
    assert default.locator("td").nth(1).inner_text() == "0"  # verifications

    # The snippets read the key from the environment and never hold it.
    snippets = "\n".join(page.locator("pre.code").all_text_contents())
    for language in (
        "process.env.IMAGEGATE_SIGNING_KEY",
        'os.environ["IMAGEGATE_SIGNING_KEY"]',
        'os.Getenv("IMAGEGATE_SIGNING_KEY")',
        "getenv('IMAGEGATE_SIGNING_KEY')",
    ):
        assert language in snippets
    assert dash.signing_key not in snippets

    # Copy and show.
    assert page.get_attribute("#key-default", "type") == "password"
    page.click("[data-reveal=key-default]")
    assert page.get_attribute("#key-default", "type") == "text"
    page.click("[data-copy=key-default]")
    page.wait_for_function("() => document.querySelector('[data-announce]').textContent !== ''")
    assert page.evaluate("navigator.clipboard.readText()") == dash.signing_key

    page.fill("#key-name", "rotation2026")
    page.get_by_role("button", name="Create the key").click()
    page.wait_for_url("**/dashboard/keys?done=key-created")
    assert page.locator("tr[data-key=rotation2026]").count() == 1
    watched.snap("keys-created")

    page.locator("tr[data-key=rotation2026] >> text=Delete").click()
    page.wait_for_url("**/dashboard/key/delete?name=rotation2026")
    assert "stop working" in page.inner_text("main")
    watched.snap("key-delete-confirm")
    page.get_by_role("button", name="Delete the key").click()
    page.wait_for_url("**/dashboard/keys?done=key-deleted")
    assert page.locator("tr[data-key=rotation2026]").count() == 0
    assert "no longer work" in page.inner_text("[role=status]")

    page.locator("tr[data-key=default] >> text=Regenerate").click()
    assert "stop working" in page.inner_text("main")
    watched.snap("key-regenerate-confirm")
    page.click("text=Cancel")
    page.wait_for_url("**/dashboard/keys")


def test_create_a_variant_and_see_its_preview(watched: Watched, dash: Server) -> None:
    _upload_by_api(dash, "wide.jpg", jpeg(1200, 800))
    page = watched.page
    watched.sign_in()
    watched.go("/dashboard/variants")
    watched.snap("variants")
    assert page.locator("tr", has_text="public").locator("text=Delete").count() == 0

    page.fill("#v-name", "banner")
    page.select_option("#v-fit", "cover")
    page.fill("#v-width", "300")
    page.fill("#v-height", "100")
    page.select_option("#v-metadata", "none")
    page.wait_for_function("() => document.getElementById('variant-preview').naturalWidth === 300")
    page.get_by_role("button", name="Create the variant").click()
    page.wait_for_url("**/dashboard/variant?name=banner&done=variant-created")
    page.wait_for_function("() => document.getElementById('variant-preview').naturalWidth > 0")
    assert watched.natural_size("#variant-preview") == (300, 100)
    watched.snap("variant")

    # Live: the preview follows the form before it is saved.
    page.fill("#v-width", "150")
    page.wait_for_function("() => document.getElementById('variant-preview').naturalWidth === 150")
    assert watched.natural_size("#variant-preview") == (150, 100)
    page.check("#v-public")
    page.get_by_role("button", name="Save the variant").click()
    page.wait_for_url("**/dashboard/variant?name=banner&done=variant-saved")
    watched.go("/dashboard/variants")
    row = page.locator("tr", has_text="banner")
    assert "150" in row.inner_text() and "yes" in row.inner_text()

    row.locator("text=Delete").click()
    watched.snap("variant-delete-confirm")
    page.get_by_role("button", name="Delete the variant").click()
    page.wait_for_url("**/dashboard/variants?done=variant-deleted")
    assert page.locator("tr", has_text="banner").count() == 0


def test_settings_and_api_tokens(watched: Watched, dash: Server) -> None:
    page = watched.page
    watched.sign_in()
    watched.go("/dashboard/settings")
    watched.snap("settings")
    page.check("#flexible")
    page.get_by_label("Keep GPS locations").check()
    page.fill("#browser-ttl", "7200")
    page.get_by_role("button", name="Save the settings").click()
    page.wait_for_url("**/dashboard/settings?done=settings-saved")
    with dash.client() as c:
        config = c.get(f"{dash.images_url}/config").json()["result"]
    assert config == {"flexible_variants": True, "browser_ttl": 7200, "keep_gps": True}
    assert page.is_checked("#keep-gps")

    page.fill("#token-name", "ci reader")
    page.check("#token-read-only")
    page.get_by_role("button", name="Create the token").click()
    value = page.input_value("#new-token")
    assert value.startswith("igt_")
    watched.snap("settings-token-created")
    with dash.client(value) as c:
        assert c.get(dash.images_url).status_code == 200
        assert c.delete(f"{dash.images_url}/keys/default").status_code == 403
    watched.go("/dashboard/settings")
    assert value not in page.content()  # shown once

    page.locator("tr", has_text="ci reader").locator("text=Revoke").click()
    watched.snap("token-revoke-confirm")
    page.get_by_role("button", name="Revoke the token").click()
    page.wait_for_url("**/dashboard/settings?done=token-revoked")
    assert "revoked" in page.locator("tr", has_text="ci reader").inner_text()
    with dash.client(value) as c:
        assert c.get(dash.images_url).status_code == 401


def test_sign_out_then_every_page_redirects_to_sign_in(watched: Watched) -> None:
    page = watched.page
    watched.sign_in()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/dashboard/signin?done=signed-out")
    assert "You are signed out" in page.inner_text("main")
    for path in PAGES:
        watched.go(path)
        assert "/dashboard/signin?next=" in page.url, path
        assert page.is_visible("#token")


def test_keyboard_alone(watched: Watched, dash: Server) -> None:
    """Sign in, move around and create a key without the mouse, seeing where focus is."""
    page = watched.page
    watched.go("/dashboard/signin")

    def tab_to(predicate: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(
                f"(() => {{ const el = document.activeElement; return {predicate}; }})()"
            ):
                return
        raise AssertionError(f"never reached {predicate}")

    tab_to("el.id === 'token'")
    page.keyboard.type(dash.api_token)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/images")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")

    tab_to("el.textContent === 'Keys'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/keys")
    tab_to("el.id === 'key-name'")
    page.keyboard.type("keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/keys?done=key-created")
    assert page.locator("tr[data-key=keyboard]").count() == 1


def test_read_only_and_admin_views(watched: Watched, dash: Server) -> None:
    """A read-only token sees no forms that change things; the admin sees the account
    picker; errors are pages with words."""
    gate = dash.gate  # type: ignore[union-attr]
    from imagegate.core.models import Scope

    _upload_by_api(dash, "seen.jpg", jpeg(400, 300), private=True)
    reader, _ = gate.tokens.create(dash.account_id, "reader", frozenset({Scope.READ}))
    page = watched.page
    watched.sign_in(reader)
    assert "read-only" in page.inner_text(".banner")
    assert page.locator("#files").count() == 0
    watched.snap("images-read-only")
    watched.go("/dashboard/keys")
    assert page.locator("#key-name").count() == 0
    page.get_by_role("button", name="Sign out").click()

    second = gate.accounts.create("second")
    watched.go("/dashboard/signin")
    page.fill("#password", "correct horse battery staple")
    page.get_by_role("button", name="Sign in as admin").click()
    page.wait_for_url("**/dashboard/images")
    assert page.locator("#account-pick option").count() == 2
    watched.snap("images-admin")
    page.select_option("#account-pick", second.account.id)
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url("**/dashboard/images?done=account-switched")
    assert "No images yet" in page.inner_text("main")

    watched.allow(r"status of 404 .*/dashboard/image\?id=not-there\]")
    missing = watched.go("/dashboard/image?id=not-there")
    assert missing.status == 404
    assert "Image not found" in page.inner_text("main")
    watched.snap("error-not-found")


def test_static_assets_are_served_by_imagegate(dash: Server) -> None:
    for asset, kind in (
        ("dashboard.css", "text/css"),
        ("dashboard.js", "javascript"),
        ("favicon.svg", "image/svg+xml"),
    ):
        answer = httpx.get(dash.url(f"/dashboard/static/{asset}"))
        assert answer.status_code == 200 and kind in answer.headers["content-type"]
        assert answer.headers["cache-control"] == "no-cache"
