"""Ray Serve application: scores users with the frozen recommender, steered through named neurons.

    python jobs/serve.py --model monorec-ml1m-mf@champion   # the registered champion, 2 replicas
    python jobs/serve.py --bundle ~/.monorec/runs/tune_sae/bundle
    RAY_SERVE_THROUGHPUT_OPTIMIZED=1 RAY_SERVE_ENABLE_HA_PROXY=1 serve run configs/serve.yaml

Every endpoint but /health needs `Authorization: Bearer <token>` when MONOREC_API_TOKEN is set.
Concurrent /recommend requests are scored together (`@serve.batch`), one call per distinct set
of interventions. Meant to run in Ray Serve's throughput mode (serve/throughput.py).
"""

import dataclasses
import hmac
import logging
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ray import serve
from starlette.types import ASGIApp, Receive, Scope, Send

from monorec.bundle import Bundle, read_bundle
from monorec.errors import InvalidRequestError, MonorecError, UnknownIdError
from monorec.serving import RankRequest, RecommenderService
from serve.schemas import ExplainIn, RecommendIn, RecommendOut

log = logging.getLogger(__name__)
api = FastAPI(title="monorec", description="Intervention-enabled recommendations over monosemantic SAE neurons.")
OPEN_PATHS = {"/health"}


class RequireToken:
    """401 unless `Authorization: Bearer $MONOREC_API_TOKEN` (when set); a plain ASGI middleware,
    since Starlette's `BaseHTTPMiddleware` costs a task and a stream copy on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = os.environ.get("MONOREC_API_TOKEN")
        if token and scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            supplied = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(supplied, f"Bearer {token}".encode()):
                await JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


api.add_middleware(RequireToken)


@api.exception_handler(UnknownIdError)
async def not_found(_: Request, error: UnknownIdError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=404)


@api.exception_handler(RequestValidationError)
async def unprocessable(_: Request, error: RequestValidationError) -> JSONResponse:
    """422 without echoing the input, which may hold NaN or Infinity that JSON cannot encode."""
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    return JSONResponse({"error": "invalid request", "detail": detail}, status_code=422)


@api.exception_handler(InvalidRequestError)
async def invalid(_: Request, error: InvalidRequestError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=422)


def load_bundle(model: str | None, bundle_path: str | None, tracking_uri: str | None = None) -> tuple[Bundle, dict]:
    """A bundle from a local folder, or from the MLflow registry as NAME@ALIAS or NAME/VERSION."""
    if bundle_path:
        return read_bundle(Path(bundle_path).expanduser()), {"model": str(bundle_path), "version": "local"}
    if not model:
        raise MonorecError("give a registered model (NAME@ALIAS or NAME/VERSION) or a bundle path")
    from monorec.tracking import download_registered  # the [mlflow] extra: only for registry references

    folder, name, version = download_registered(model, tracking_uri)
    return read_bundle(folder), {"model": name, "version": version}


@serve.deployment(num_replicas=2, max_ongoing_requests=64, logging_config={"enable_access_log": False})
@serve.ingress(api)
class MonorecService:
    def __init__(self, model: str | None = None, bundle_path: str | None = None, tracking_uri: str | None = None):
        bundle, self.source = load_bundle(model, bundle_path, tracking_uri)
        self.service = RecommenderService(bundle)
        self.dataset = bundle.config.data.dataset

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.0)
    async def _rank_batch(self, requests: list[RankRequest]) -> list[list[dict]]:
        """Whatever arrived while the previous batch ran is scored together (vectorised over users)."""
        return self.service.rank_many(requests)

    @api.get("/health")
    def health(self) -> dict:
        return {
            "status": "ok",
            **self.source,
            "dataset": self.dataset,
            "neurons": int(self.service.bundle.sae.n_latents),
        }

    @api.get("/neurons")
    def neurons(self) -> list[dict]:
        return [entry for j in range(self.service.bundle.sae.n_latents) for entry in self.service.describe_neuron(j)]

    @api.get("/neurons/{id_or_label}")
    def neuron(self, id_or_label: str) -> list[dict]:
        return self.service.describe_neuron(id_or_label)

    @api.post("/recommend", response_model=RecommendOut)
    async def recommend(self, body: RecommendIn) -> dict:
        user = self.service.user_index(body.user_id)
        interventions = tuple(body.interventions)
        self.service.steerer.check(interventions)
        items = await self._rank_batch(RankRequest(user, interventions, body.k, body.exclude_seen))
        if interventions:
            explanation = f"ranked by the frozen model on SAE codes after {len(interventions)} intervention(s)"
        else:
            explanation = "the frozen recommender's own ranking"
        applied = [dataclasses.asdict(i) for i in interventions]
        return {"items": items, "interventions_applied": applied, "explanation": explanation}

    @api.post("/explain")
    def explain(self, body: ExplainIn) -> dict:
        return {
            "user_id": body.user_id,
            "item_id": body.item_id,
            "neurons": self.service.explain(body.user_id, body.item_id, body.top),
        }

    @api.get("/users/{user_id}/profile")
    def profile(self, user_id: str) -> dict:
        return {"user_id": user_id, "neurons": self.service.profile(user_id)}


def app_builder(args: dict) -> serve.Application:
    """`serve run` entry point: args are `model`, `bundle_path`, `tracking_uri` and `num_replicas`."""
    deployment = MonorecService.options(num_replicas=int(args.get("num_replicas", 2)))
    return deployment.bind(args.get("model"), args.get("bundle_path"), args.get("tracking_uri"))
