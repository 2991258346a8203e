"""The meta-test in conftest.py sees every error response: make sure it is watching."""

from __future__ import annotations

import httpx

from harness import RECORDED_ERRORS, Server


def test_the_recorder_sees_api_and_delivery_errors(server: Server) -> None:
    before = len(RECORDED_ERRORS)
    httpx.get(f"{server.images_url}/nothing-here", headers={"Authorization": "Bearer x"})
    httpx.get(f"{server.base_url}/{server.account_hash}/nothing/public")
    seen = RECORDED_ERRORS[before:]
    assert [(r.status, r.path.split("/")[-1]) for r in seen] == [
        (401, "nothing-here"),
        (404, "public"),
    ]
    assert seen[1].body == b"ERROR 9431: Not found"
