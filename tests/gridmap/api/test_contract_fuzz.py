"""The contract fuzz test (issue 12's acceptance): schemathesis reads ``/api/openapi.json``
from a live ``gridmap serve`` and sends generated requests, valid and invalid, to every
operation of the fuzzed tags, as an admin, a grid lead and an intake client (API token).

Every answer must be: no 5xx, a documented status code, a documented media type, and a
body that matches the declared schema. Bounded (FUZZ_EXAMPLES per operation and mode for
the admin, fewer for the other roles: ROLE_SHARE) and deterministic (hypothesis
derandomized, no example database). The figures of a run (requests per role, failures)
are written to test-artifacts/contract-fuzz-<tags>.json.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gridmap.settings import PROJECT_ROOT
from tests.conftest import make_test_database
from tests.gridmap.cases.world import insert_case, seed_world
from tests.gridmap.web.conftest import LiveServer, start_server, stop_server
from tests.signin import api_token, ensure_account, signed_in_session

#: Tags whose operations are fuzzed: every API (GRIDMAP_FUZZ_TAGS=ogc,tiles for a few).
ALL_TAGS = "cases,open311,api,patrols,exports,visits,ogc,tiles"
FUZZED_TAGS = tuple(os.environ.get("GRIDMAP_FUZZ_TAGS", ALL_TAGS).split(","))
#: Generated examples per operation and generation mode, for the admin (every answer is
#: open to them); the grid lead gets half (the same operations, scoped) and the intake
#: client a quarter (most operations answer it 403 before reading the request).
FUZZ_EXAMPLES = int(os.environ.get("GRIDMAP_FUZZ_EXAMPLES", "20"))
ROLE_SHARE = {"admin": 1.0, "grid_lead": 0.5, "api_client": 0.25}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ("admin", "grid_lead", "api_client")


@dataclass
class Tally:
    """What the fuzzer sent and found for one role."""

    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def fuzz_server(_created: list[str]) -> Iterator[LiveServer]:
    """``gridmap serve`` over the case test world with a few cases of every status."""
    url = make_test_database("fuzz")
    _created.append(url)
    seed_world(url)
    for status in ("reported", "dispatched", "resolved", "closed"):
        insert_case(url, status, reporter_name="张三", reporter_phone="13812345678")
    server = start_server(url, "fuzz")
    try:
        yield server
    finally:
        stop_server(server)


def session_for(server: LiveServer, role: str) -> requests.Session:
    """A requests.Session of ``role``: a signed-in session, or a bearer token."""
    if role == "api_client":
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {api_token(server.database_url)}"
        return http
    grids = ("G1",) if role == "grid_lead" else ()
    return signed_in_session(server.url, *ensure_account(server.database_url, role, grids=grids))


def fuzz(server: LiveServer, role: str) -> Tally:
    """Run every fuzzed operation in both generation modes as ``role``."""
    http = session_for(server, role)
    document = http.get(server.url + "/api/openapi.json", timeout=30)
    assert document.status_code == 200, f"{role} cannot read the contract"
    schema = schemathesis.openapi.from_dict(document.json())
    schema.config.update(base_url=server.url)
    # the role's own credentials, not generated ones (those only ever earn a 401)
    schema.config.generation.update(with_security_parameters=False)
    tally = Tally()
    examples = max(1, round(FUZZ_EXAMPLES * ROLE_SHARE[role]))
    for result in schema.get_all_operations():
        operation = result.ok()
        if not any(tag in FUZZED_TAGS for tag in operation.tags or ()):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_operation(operation, mode, http, server.url, tally, examples)
    return tally


def run_operation(
    operation, mode, http: requests.Session, base_url: str, tally: Tally, examples: int
) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def probe(case) -> None:
        response = case.call(base_url=base_url, session=http, timeout=30)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # a check failed: note it, go on
            key = f"{operation.label} [{mode.value}] {response.status_code}"
            tally.failures.setdefault(key, f"{type(exc).__name__}: {str(exc)[:600]}")

    try:
        probe()
    except Unsatisfiable:  # e.g. no invalid value of a free string path parameter exists
        tally.skipped.append(f"{operation.label} [{mode.value}]")
    except (Exception, BaseExceptionGroup) as exc:  # no examples (a schema error)
        tally.failures.setdefault(f"{operation.label} [{mode.value}] generation", repr(exc)[:600])


def test_contract_fuzz(fuzz_server: LiveServer) -> None:
    started = time.monotonic()
    tallies = {role: fuzz(fuzz_server, role) for role in ROLES}
    report = {
        "seconds": round(time.monotonic() - started, 1),
        "examples_per_operation_and_mode": {
            role: max(1, round(FUZZ_EXAMPLES * ROLE_SHARE[role])) for role in ROLES
        },
        "tags": list(FUZZED_TAGS),
        "roles": {
            role: {
                "requests": t.requests,
                "statuses": dict(sorted(t.statuses.items())),
                "failures": t.failures,
                "skipped": t.skipped,
            }
            for role, t in tallies.items()
        },
    }
    out = PROJECT_ROOT / "test-artifacts" / f"contract-fuzz-{'-'.join(FUZZED_TAGS)}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    assert all(t.requests > 0 for t in tallies.values())
    failures = {role: t.failures for role, t in tallies.items() if t.failures}
    assert not failures, json.dumps(failures, indent=2, ensure_ascii=False)[:6000]
