"""Stateless fuzzing of every operation of the live engine's OpenAPI document: never a 5xx.

The fuzzer adds and deletes at random, so it runs against an engine of its own. Each operation is
driven by its own Hypothesis run and every failure is collected, so one report lists them all
(schemathesis' own pytest plugin does not work with pytest 9 yet: it reads ``Function._nodeid``).
Only schema-conforming data is sent: negative generation takes minutes on the large types.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from .conftest import ADMIN, LiveEngine, running_engine

pytestmark = pytest.mark.contract

MAX_EXAMPLES = 15
MAX_RESPONSE_S = 5.0


@pytest.fixture(scope="module")
def fuzz_engine() -> Iterator[LiveEngine]:
    with running_engine(simulate=0) as live:
        yield live


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_engine: LiveEngine) -> Any:
    return schemathesis.openapi.from_url(
        f"{fuzz_engine.api_url}/openapi.json",
        auth=(ADMIN, fuzz_engine.password),
        verify=str(fuzz_engine.ca_file),
        timeout=30,
    )


def _basic_auth(engine: LiveEngine) -> dict[str, str]:
    token = base64.b64encode(f"{ADMIN}:{engine.password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Findings:
    """What the fuzzer saw go wrong, one line per distinct operation and status."""

    lines: dict[str, str] = field(default_factory=dict)
    calls: int = 0

    def add(self, key: str, text: str) -> None:
        self.lines.setdefault(key, text)


def _describe(case: Any, response: Any, why: str) -> str:
    body = response.text[:300] if response.text else ""
    sent = getattr(case, "body", None)
    request_body = sent if isinstance(sent, dict | list | str | bytes) else None
    return (
        f"{case.method} {case.formatted_path} -> {response.status_code} ({why})\n"
        f"    query={case.query!r} body={request_body!r}\n    reply={body!r}"
    )


def _fuzz_operation(operation: Any, engine: LiveEngine, findings: Findings) -> None:
    auth = _basic_auth(engine)

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=auth))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=engine.base_url, verify=str(engine.ca_file), timeout=30)
        findings.calls += 1
        label = f"{case.method} {operation.path}"
        if response.status_code >= 500:
            findings.add(f"{label} {response.status_code}", _describe(case, response, "5xx"))
        if response.elapsed > MAX_RESPONSE_S:
            findings.add(f"{label} slow", _describe(case, response, f"{response.elapsed:.1f}s"))

    run()


def _fuzz_all(schema: Any, engine: LiveEngine) -> Findings:
    findings = Findings()
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz_operation(operation, engine, findings)
        except Unsatisfiable:
            continue  # nothing to vary, e.g. the API root
        except Exception as exc:  # a generator error must not hide the other operations
            findings.add(f"{operation.label} error", f"{operation.label}: {exc!r}")
    return findings


# Every operation of the document gets its own run: the whole takes minutes, more than the
# suite's default time limit per test, and grows with the API.
@pytest.mark.timeout(1200)
def test_no_operation_answers_with_a_server_error_or_slowly(
    fuzz_schema: Any, fuzz_engine: LiveEngine
) -> None:
    findings = _fuzz_all(fuzz_schema, fuzz_engine)

    assert findings.calls > MAX_EXAMPLES, "the fuzzer made almost no requests"
    assert not findings.lines, "\n".join(findings.lines.values())
