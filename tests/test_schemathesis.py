"""Property-based testing of the whole management API from its own OpenAPI description:
no generated request may get a 5xx, and every documented response must match its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from harness import Server, in_process, jpeg, serve_account
from imagegate.settings import Settings


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("schemathesis"))
    with serve_account(settings, name="fuzz") as srv:
        gate, account = in_process(srv)
        gate.images.upload(account, jpeg(64, 48), custom_id="known")
        yield srv


@pytest.fixture(scope="module")
def api_schema(api: Server) -> Any:
    spec = httpx.get(f"{api.base_url}/openapi.json").json()
    # Aim the fuzzing at the real account (other ids only ever get 403).
    for path in spec["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "account_id":
                    parameter["schema"] = {"type": "string", "enum": [api.account_id]}
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=api.base_url)
    return schema


def test_api_has_no_server_errors_and_keeps_its_schema(api: Server, api_schema: Any) -> None:
    """Every operation, 25 generated requests each (derandomised, so runs are repeatable)."""
    headers = {"Authorization": f"Bearer {api.api_token}"}
    failures: dict[str, str] = {}
    calls: list[int] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            calls.append(1)
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            run()
        except Exception as exc:  # collect all, report together
            failures[operation.label] = str(exc)[:2000]
    assert len(calls) >= 10 * len(operations)  # the generators really produced requests
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
