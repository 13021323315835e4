"""The HTTP app of `serve.api` answering from this process: a planted bundle's service behind a bearer token, no Ray.

Requests go through the app's ASGI interface the way Schemathesis sends them, so a test reads the
very bodies a client over HTTP would get.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from sae_fixtures import planted, trained_sae

from monorec.bundle import BundleSource, read_bundle, write_bundle
from monorec.config import ExperimentConfig
from monorec.serving import RecommenderService
from serve import api as served_api
from serve.guard import TOKEN_ENV, required_token

TOKEN = "in-process-token"
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}
SOURCE = {"model": "local bundle", "version": "local", "bundle_digest": "x"}  # what /health says it serves


def planted_service(folder: Path) -> RecommenderService:
    """The service core over a bundle, written to `folder`, of the planted MF and its SAE."""
    data, _, split, model = planted()
    sae, _, report = trained_sae()
    source = BundleSource(model, sae, report.neurons, data, split, ExperimentConfig())
    return RecommenderService(read_bundle(write_bundle(folder, source)))


@contextlib.contextmanager
def serving(service: RecommenderService) -> Iterator[None]:
    """The app's routes answer from `service` while the block runs, behind `TOKEN`.

    The guard reads the token when the app builds its middleware (on its first request), so the
    middleware is rebuilt on entry, with this token, and on exit, with whatever the environment
    then holds.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, TOKEN)
        required_token.cache_clear()
        served_api.api.middleware_stack = None
        served_api.install(served_api.in_process(service, SOURCE))
        try:
            yield
        finally:
            required_token.cache_clear()
            served_api.api.middleware_stack = None


@functools.cache
def _document() -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_dict(served_api.api.openapi())
    schema.app = served_api.api
    return schema


def post(path: str, body: dict) -> schemathesis.Response:
    """One JSON request, with the token, to the app in this process (inside `serving`)."""
    return _document()[path]["POST"].Case(body=body, media_type="application/json").call(headers=AUTHORIZED)
