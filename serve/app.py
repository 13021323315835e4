"""Ray Serve application: scores users with the frozen recommender, steered through named neurons.

    python jobs/run_service.py --model monorec-ml1m-mf@champion   # the registered champion, 2 replicas
    python jobs/run_service.py --bundle ~/.monorec/runs/tune_sae/bundle
    RAY_SERVE_THROUGHPUT_OPTIMIZED=1 RAY_SERVE_ENABLE_HA_PROXY=1 serve run configs/serve.yaml

The routes, error bodies and OpenAPI document are `serve/api.py` (no Ray there: tests and
Schemathesis run them in-process); this module is the deployment that loads a bundle and batches.
`/` is the neuron explorer (a page with no data in it; monorec/explorer/). Every endpoint but
/health and the page needs `Authorization: Bearer <token>`: replicas refuse to start
without MONOREC_API_TOKEN unless MONOREC_INSECURE_NO_AUTH is set (serve/guard.py). Concurrent
/recommend requests are scored together (`@serve.batch`), one call per distinct set of
interventions, off the event loop; concurrent histories are folded in together. Meant to run
in Ray Serve's throughput mode (serve/throughput.py).
"""

import asyncio
from pathlib import Path

from ray import serve

from monorec.bundle import Bundle, read_bundle
from monorec.errors import ConflictError, MonorecError
from monorec.serving import Folded, RankRequest, RecommenderService
from serve.api import Backend, api, install, place_many
from serve.guard import required_token


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
    """One replica: loads the bundle and serves `serve.api`'s routes from it, ranking in batches."""

    def __init__(
        self,
        model: str | None = None,
        bundle_path: str | None = None,
        tracking_uri: str | None = None,
        digest: str | None = None,
    ) -> None:
        required_token()  # fail closed: no token and no explicit insecure mode, no replica
        bundle, source = load_bundle(model, bundle_path, tracking_uri, digest)
        self.service = RecommenderService(bundle)
        install(Backend(self.service, source, self._rank_batch, self._place_batch))

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.0)
    async def _rank_batch(self, requests: list[RankRequest]) -> list[list[dict] | ConflictError]:
        """Whatever arrived while the previous batch ran is scored together, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.service.rank_many, requests)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.0)
    async def _place_batch(self, histories: list[tuple[int, ...]]) -> list[Folded]:
        """Histories that arrived together are folded in together (a history tower: one forward pass)."""
        return await place_many(self.service, histories)


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
