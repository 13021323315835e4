"""Ray Serve application: scores users with the frozen recommender, steered through named neurons.

    python jobs/run_service.py --model monorec-ml1m-mf@champion   # the registered champion, 2 replicas
    python jobs/run_service.py --bundle ~/.monorec/runs/tune_sae/bundle
    RAY_SERVE_THROUGHPUT_OPTIMIZED=1 RAY_SERVE_ENABLE_HA_PROXY=1 serve run configs/serve.yaml

`/` is the neuron explorer (a page with no data in it; monorec/explorer/). Every endpoint but
/health and the page needs `Authorization: Bearer <token>`: replicas refuse to start
without MONOREC_API_TOKEN unless MONOREC_INSECURE_NO_AUTH is set (serve/guard.py). Concurrent
/recommend requests are scored together (`@serve.batch`), one call per distinct set of
interventions, off the event loop. Meant to run in Ray Serve's throughput mode (serve/throughput.py).
"""

import asyncio
import dataclasses
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from ray import serve

from monorec.bundle import Bundle, read_bundle
from monorec.errors import InvalidRequestError, MonorecError, UnknownIdError
from monorec.explorer import explorer_html
from monorec.serving import RankRequest, RecommenderService
from serve.guard import Guard, required_token
from serve.schemas import ExplainIn, RecommendIn, RecommendOut

log = logging.getLogger(__name__)
api = FastAPI(title="monorec", description="Intervention-enabled recommendations over monosemantic SAE neurons.")
api.add_middleware(Guard)
EXPLORER_PAGE = explorer_html()
# The page may talk only to this service: inline script and style (it has no other), no other origin.
PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "frame-ancestors 'none'"  # no framing: a token typed into the page cannot be clickjacked
)


@api.exception_handler(UnknownIdError)
async def not_found(_: Request, error: UnknownIdError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=404)


@api.exception_handler(RequestValidationError)
async def unprocessable(_: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming where the body is wrong, without echoing it (it may hold NaN, or be huge)."""
    detail = [{"loc": [str(part)[:40] for part in e["loc"]][:8], "msg": e["msg"][:200]} for e in error.errors()[:8]]
    return JSONResponse({"error": "invalid request", "detail": detail}, status_code=422)


@api.exception_handler(InvalidRequestError)
async def invalid(_: Request, error: InvalidRequestError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=422)


def load_bundle(
    model: str | None, bundle_path: str | None, tracking_uri: str | None = None, digest: str | None = None
) -> tuple[Bundle, dict]:
    """A bundle from a local folder, or a registered NAME/VERSION whose manifest must hash to `digest`.

    What /health shows of it: the registered name and version, or "local bundle", never a path.
    """
    if bundle_path:
        bundle = read_bundle(Path(bundle_path).expanduser())
        return bundle, {"model": "local bundle", "version": "local", "bundle_digest": bundle.digest}
    if not model:
        raise MonorecError("give a registered model (NAME/VERSION, resolved from NAME@ALIAS) or a bundle path")
    from monorec.tracking import Tracker  # the [mlflow] extra: only for registry references

    bundle, name, version = Tracker(tracking_uri).read_registered(model, digest)
    return bundle, {"model": name, "version": version, "bundle_digest": bundle.digest}


@serve.deployment(num_replicas=2, max_ongoing_requests=64, logging_config={"enable_access_log": False})
@serve.ingress(api)
class MonorecService:
    def __init__(
        self,
        model: str | None = None,
        bundle_path: str | None = None,
        tracking_uri: str | None = None,
        digest: str | None = None,
    ) -> None:
        required_token()  # fail closed: no token and no explicit insecure mode, no replica
        bundle, self.source = load_bundle(model, bundle_path, tracking_uri, digest)
        self.service = RecommenderService(bundle)
        self.dataset = bundle.config.data.dataset

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.0)
    async def _rank_batch(self, requests: list[RankRequest]) -> list[list[dict] | InvalidRequestError]:
        """Whatever arrived while the previous batch ran is scored together, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.service.rank_many, requests)

    @api.get("/", include_in_schema=False)
    def explorer_page(self) -> HTMLResponse:
        """The neuron explorer (no data in it: the page fetches everything with the user's token)."""
        return HTMLResponse(EXPLORER_PAGE, headers={"Content-Security-Policy": PAGE_POLICY})

    @api.get("/explorer/neurons")
    def explorer_neurons(self) -> dict:
        return self.service.explorer_data

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
        loop = asyncio.get_running_loop()
        user = self.service.user_index(body.user_id)
        applied, calibrations = await loop.run_in_executor(None, self.service.resolve, body.interventions)
        items = await self._rank_batch(RankRequest(user, applied, body.k, body.exclude_seen))
        if isinstance(items, InvalidRequestError):  # this request alone failed; its batch did not
            raise items
        for calibration in calibrations:
            effect = await loop.run_in_executor(None, self.service.user_effect, user, calibration["target"], applied)
            calibration["user_effect"] = effect
        if applied:
            explanation = f"the frozen model's scores after {len(applied)} intervention(s) on SAE codes"
        else:
            explanation = "the frozen recommender's own ranking"
        return {
            "items": items,
            "interventions_applied": [dataclasses.asdict(i) for i in applied],
            "calibration": calibrations,
            "explanation": explanation,
        }

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
    """`serve run` entry point: args `model` (NAME@ALIAS or NAME/VERSION), `bundle_path`, `tracking_uri`,
    `num_replicas`.

    A registry alias is resolved here, once, in the process that deploys: every replica then
    loads the same version and checks its manifest digest, even if the alias moves meanwhile.
    """
    model, digest = args.get("model"), None
    if model and not args.get("bundle_path"):
        from monorec.tracking import Tracker

        name, version, digest = Tracker(args.get("tracking_uri")).resolve_registered(model)
        model = f"{name}/{version}"
    deployment = MonorecService.options(num_replicas=int(args.get("num_replicas", 2)))
    return deployment.bind(model, args.get("bundle_path"), args.get("tracking_uri"), digest)
