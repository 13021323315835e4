"""The OpenAPI document is the contract: Schemathesis, every check, in-process through the app's ASGI interface.

No Ray: `serve.api` serves a planted bundle from this process. Every operation is fuzzed with bodies
the document allows and bodies it forbids; each answer must be one the document lists, with the
body schema it gives, and no answer may be a server error.
"""

import collections

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sae_fixtures import planted, trained_sae
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from monorec.bundle import BundleSource, read_bundle, write_bundle
from monorec.config import ExperimentConfig
from monorec.serving import RecommenderService, _plain
from serve import api as served_api
from serve.guard import TOKEN_ENV, required_token

TOKEN = "contract-token"
EXAMPLES = 200  # per operation (derandomized: the same requests every run); the operations without inputs take one each
MIN_REQUESTS = 1000
SCHEMA = schemathesis.openapi.from_dict(
    served_api.api.openapi(), config=SchemathesisConfig.from_dict({"generation": {"mode": "all"}})
)  # bodies the document allows and bodies it forbids
SCHEMA.app = served_api.api
load_all_checks()
CHECKS_RUN = CHECKS.get_all()  # every check Schemathesis has
sent: list[int] = []


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """The planted bundle served in-process, behind a token (the guard reads it when the app first runs)."""
    patch = pytest.MonkeyPatch()
    patch.setenv(TOKEN_ENV, TOKEN)
    required_token.cache_clear()
    served_api.api.middleware_stack = None  # rebuilt on the next request, with this token
    data, _, split, model = planted()
    sae, _, report = trained_sae()
    folder = write_bundle(
        tmp_path_factory.mktemp("bundle") / "b",
        BundleSource(model, sae, report.neurons, data, split, ExperimentConfig()),
    )
    service = RecommenderService(read_bundle(folder))
    served_api.install(
        served_api.Backend(
            service, {"model": "local bundle", "version": "local", "bundle_digest": "x"}, served_api.unbatched(service)
        )
    )
    yield service
    patch.undo()
    required_token.cache_clear()
    served_api.api.middleware_stack = None


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
)
def test_every_answer_is_one_the_document_lists(case, backend):
    _known_ids(case, backend)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS_RUN)
    sent.append((case.operation.label, response.status_code))


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


def test_the_contract_run_sent_enough_requests_and_met_every_status():
    assert len(sent) >= MIN_REQUESTS, sorted(collections.Counter(sent).items())
    statuses = collections.Counter(status for _, status in sent)
    assert statuses[200] >= 100 and statuses[404] > 0 and statuses[422] > 0, statuses
