"""schemathesis against the app's own OpenAPI schema, with an account token and a participant
token: whatever it sends, the answer is never a server error. Bounded (and derandomised) so that
CI runs it every time; LABS_FUZZ_EXAMPLES raises the examples per operation for a longer hunt."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from labs.testing import LiveServer
from tests.test_access_matrix import World, make_world

EXAMPLES = int(os.environ.get("LABS_FUZZ_EXAMPLES", "15"))
BOUNDED = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, LiveServer]]:
    folder = tmp_path_factory.mktemp("fuzz")
    world = make_world(sqlite_template, folder / "labs.db")
    server = LiveServer(folder).start()
    try:
        yield world, server
    finally:
        server.stop()


@pytest.mark.parametrize("who", ["facilitator", "participant"])
def test_no_server_errors(fuzz_server: tuple[World, LiveServer], who: str) -> None:
    world, server = fuzz_server
    schema = schemathesis.openapi.from_url(server.base_url + "/api/docs/openapi.json")
    headers = {"Authorization": f"Bearer {world.callers[who].bearer}"}
    errors: list[str] = []
    calls: list[int] = []
    # Revoking tokens last: the caller may revoke its own, and every later call would be a 401.
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=lambda o: "/auth/tokens/" in o.path)
    assert len(operations) > 20, "the schema lost its operations"
    for operation in operations:
        # Cases that fit the schema and cases that break it (wrong types, missing fields, odd values).
        @given(case=st.one_of(operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE)))
        @BOUNDED
        def attack(case: Any) -> None:
            response = case.call(base_url=server.base_url, headers=headers, timeout=20)
            calls.append(response.status_code)
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path} {case.query or ''} → {response.status_code}")

        attack()
    assert len(calls) >= len(operations) * 2, f"only {len(calls)} requests"
    assert not errors, "\n".join(sorted(set(errors)))
