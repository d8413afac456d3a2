"""Schema-driven fuzzing: every operation of /openapi.json, as every role, never answers 5xx.

schemathesis generates requests from the OpenAPI document (path, query, headers,
body: valid and invalid, extreme numbers and strings) and each one is sent as
admin, analyst, operator, channel and anonymously to a scratch stack. Bounded
so that it runs in `make test`: EXAMPLES generated requests per operation.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

ROLES = ("admin", "analyst", "operator", "channel", None)
EXAMPLES = 4
# Operations that end the caller's session: sent with a fresh sign-in each time.
ENDS_SESSION = {("POST", "/api/auth/logout"), ("POST", "/api/auth/password")}


def _token(base_url: str, role: str) -> str:
    response = httpx.post(f"{base_url}/api/auth/token", data={"username": role, "password": "test-pass"})
    response.raise_for_status()
    return response.json()["access_token"]


def _fuzz(operation, base_url: str, tokens: dict[str, str], failures: list[str]) -> int:
    """Send EXAMPLES generated requests of one operation as every role; return how many were answered."""
    key = (operation.method.upper(), operation.path)
    sent = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def send(case) -> None:
        nonlocal sent
        for role in ROLES:
            headers = dict(case.headers or {})
            if role is not None:
                token = _token(base_url, role) if key in ENDS_SESSION else tokens[role]
                headers["Authorization"] = f"Bearer {token}"
            try:
                response = case.call(base_url=base_url, headers=headers, timeout=60)
            except Exception as exc:  # a dropped connection is a server failure too
                failures.append(f"{key[0]} {key[1]} as {role or 'anonymous'}: {type(exc).__name__}: {exc}")
                continue
            sent += 1
            if response.status_code >= 500:
                failures.append(
                    f"{key[0]} {case.formatted_path} as {role or 'anonymous'}: {response.status_code} "
                    f"query={case.query} body={str(case.body)[:200]}"
                )

    send()
    return sent


def test_no_operation_answers_a_server_error_to_any_role(scratch_stack):
    base_url = scratch_stack.base_url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    tokens = {role: _token(base_url, role) for role in ROLES if role}
    failures: list[str] = []
    sent = sum(_fuzz(operation, base_url, tokens, failures) for operation in operations)
    figure = f"{len(operations)} operations x {len(ROLES)} roles x up to {EXAMPLES} examples = {sent} requests"
    print(f"fuzz ({scratch_stack.name}): {figure}, {len(failures)} server errors")
    assert len(operations) > 60
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:50])


@pytest.fixture(autouse=True)
def _show_figure(capsys):
    yield
    with capsys.disabled():
        out = capsys.readouterr().out
        if out:
            print(out)
