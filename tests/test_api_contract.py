"""The OpenAPI document is the contract: Schemathesis, every check, in-process through the app's ASGI interface.

No Ray: `serve.api` serves a planted bundle from this process. Every operation is fuzzed with bodies
the document allows and bodies it forbids; each answer must be one the document lists, with the
body schema it gives, and no answer may be a server error.

The run happens once per module, inside whichever of its tests asks first (each operation reported
as a subtest there), and both tests read what it recorded: each runs alone (by node id, with -k,
on any xdist worker) and together they run it once.
"""

import collections
import dataclasses

import pytest
import schemathesis
from http_app import AUTHORIZED, planted_service, serving
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from monorec.serving import RecommenderService, _plain
from serve import api as served_api

EXAMPLES = 200  # per operation (derandomized: the same requests every run); the operations without inputs take one each
MIN_REQUESTS = 1000
# A body the document forbids must be refused. Over the guard's 64 KiB it is, with 413, before it is parsed:
# Schemathesis's default list of refusals lacks 413, so a large forbidden body read as accepted.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
SCHEMA = schemathesis.openapi.from_dict(
    served_api.api.openapi(),
    config=SchemathesisConfig.from_dict(
        {
            "generation": {"mode": "all"},  # bodies the document allows and bodies it forbids
            "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
        }
    ),
)
SCHEMA.app = served_api.api
load_all_checks()
CHECKS_RUN = CHECKS.get_all()  # every check Schemathesis has
CONTRACT = schemathesis.pytest.from_fixture("contract_schema")  # every operation, run from inside a test


@dataclasses.dataclass
class Run:
    """What the contract run sent, (operation, status) per request, and the operations that broke the document."""

    sent: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    broken: set[str] = dataclasses.field(default_factory=set)
    started: bool = False


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """The planted bundle served in-process, behind a token."""
    service = planted_service(tmp_path_factory.mktemp("bundle") / "b")
    with serving(service):
        yield service


@pytest.fixture(scope="module")
def contract_schema(backend):
    """The document, answered by the planted bundle."""
    return SCHEMA


@pytest.fixture(scope="module")
def run() -> Run:
    return Run()


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
)
def _answer(case, backend, run):
    """One request of the run: its answer must be one the document lists, with the body schema it gives."""
    _known_ids(case, backend)
    try:
        response = case.call_and_validate(headers=AUTHORIZED, checks=CHECKS_RUN)
    except BaseException:  # Schemathesis's FailureGroup is a BaseExceptionGroup
        run.broken.add(case.operation.label)
        raise
    run.sent.append((case.operation.label, response.status_code))


_every_operation = CONTRACT.parametrize()(_answer)


def _contract(request: pytest.FixtureRequest, run: Run) -> Run:
    """The module's contract run: Schemathesis's run of every operation, the first time a test asks."""
    if not run.started:
        run.started = True
        _every_operation(request=request)
    return run


def _known_ids(case, service: RecommenderService) -> None:
    """Integer user and item ids folded onto the bundle's own (still integers, so the body stays exactly as
    valid or invalid as it was drawn), so that most requests reach scoring instead of stopping at a 404."""
    body = case.body if isinstance(case.body, dict) else {}
    users, items = [_plain(u) for u in service.bundle.user_ids], service.item_ids

    def known(value: object, ids: list) -> object:
        return ids[value % len(ids)] if type(value) is int else value  # not bool: True is an int in Python

    if "user_id" in body:
        body["user_id"] = known(body["user_id"], users)
    if "item_id" in body:
        body["item_id"] = known(body["item_id"], items)
    if isinstance(body.get("history"), list):
        body["history"] = [known(item, items) for item in body["history"]]


def test_every_answer_is_one_the_document_lists(request, run):
    broken = _contract(request, run).broken
    assert not broken, f"answers the document does not list, in {sorted(broken)}: Schemathesis's report above"


def test_the_contract_run_sent_enough_requests_and_met_every_status(request, run):
    sent = _contract(request, run).sent
    assert len(sent) >= MIN_REQUESTS, sorted(collections.Counter(sent).items())
    statuses = collections.Counter(status for _, status in sent)
    assert statuses[200] >= 100 and statuses[404] > 0 and statuses[422] > 0, statuses
