"""The HTTP API, without Ray: routes, error bodies and the OpenAPI document that describes them.

The routes read the service through `backend()`, which the process serving them installs once:
the Ray Serve replica (serve/app.py, with its batched ranking) or, in-process, a test or a
Schemathesis run through the app's ASGI interface. Every status an operation can return is in
the document with its body: 200, 400 (not UTF-8 JSON), 401, 404 (unknown ids), 409 (valid but
not satisfiable by this model: an unreachable target, non-finite scores), 413 and 422 (the body
breaks the schema), so a client generated from /openapi.json handles every answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from monorec.errors import ConflictError, InvalidRequestError, UnknownIdError
from monorec.explorer import explorer_html
from monorec.serving import Folded, RankRequest, RecommenderService
from serve.guard import Guard
from serve.schemas import (
    ExplainIn,
    ExplainOut,
    HealthOut,
    NeuronOut,
    ProfileOut,
    RecommendIn,
    RecommendOut,
    WhoIn,
    responses,
)

Rank = Callable[[RankRequest], Awaitable["list[dict] | ConflictError"]]
Place = Callable[[tuple[int, ...]], Awaitable[Folded]]
api = FastAPI(title="monorec", description="Intervention-enabled recommendations over monosemantic SAE neurons.")
api.add_middleware(Guard)
EXPLORER_PAGE = explorer_html()
# The page may talk only to this service: inline script and style (it has no other), no other origin.
PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "frame-ancestors 'none'"  # no framing: a token typed into the page cannot be clickjacked
)
GUARDED = responses(401)


@dataclasses.dataclass
class Backend:
    """What the routes serve from: the service core, where its bundle came from, and how lists are ranked."""

    service: RecommenderService
    source: dict  # /health: registered name and version, or "local bundle"
    rank: Rank  # one request's top-k (the replica batches concurrent ones)
    place: Place  # one checked history's user (the replica batches concurrent ones)


_installed: list[Backend] = []


def install(backend: Backend) -> None:
    """Serve the routes from `backend` (once per process: a replica, or a test)."""
    _installed[:] = [backend]


async def backend() -> Backend:
    """The installed backend (async: FastAPI runs a plain-function dependency on a worker thread)."""
    if not _installed:
        raise RuntimeError("no backend installed: serve/app.py installs one per replica")
    return _installed[0]


Served = Annotated[Backend, Depends(backend)]  # what each route is given: the installed backend


def in_process(service: RecommenderService, source: dict) -> Backend:
    """Each request ranked and placed on its own (the in-process app; replicas batch both)."""

    async def rank(request: RankRequest) -> list[dict] | ConflictError:
        return (await asyncio.get_running_loop().run_in_executor(None, service.rank_many, [request]))[0]

    async def place(history: tuple[int, ...]) -> Folded:
        return (await place_many(service, [history]))[0]

    return Backend(service, source, rank, place)


async def place_many(service: RecommenderService, histories: list[tuple[int, ...]]) -> list[Folded]:
    """Users folded in from checked histories, together: one on the event loop when the kind's fold-in is
    a closed form or one forward pass (about a millisecond, less than a thread hop costs); several, or a
    slow fold-in, off it, so that no other request (a known user's, /health) waits for a batch."""
    if service.quick_fold_in and len(histories) == 1:
        return service.fold_in_many(histories)
    return await asyncio.get_running_loop().run_in_executor(None, service.fold_in_many, histories)


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
    """A request the schema allows but the service's own checks refuse (e.g. a history over its size)."""
    return JSONResponse({"error": str(error), "detail": [{"loc": ["body"], "msg": str(error)[:200]}]}, 422)


@api.exception_handler(ConflictError)
async def conflict(_: Request, error: ConflictError) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=409)


@api.exception_handler(HTTPException)
async def http_error(_: Request, error: HTTPException) -> JSONResponse:
    """Starlette's own errors (a body that is not UTF-8 JSON, an unknown path) in the same shape as ours."""
    return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)


@api.get("/", include_in_schema=False)
def explorer_page() -> HTMLResponse:
    """The neuron explorer (no data in it: the page fetches everything with the user's token)."""
    return HTMLResponse(EXPLORER_PAGE, headers={"Content-Security-Policy": PAGE_POLICY})


@api.get("/explorer/neurons", responses=GUARDED)
def explorer_neurons(served: Served) -> dict:
    return served.service.explorer_data


@api.get("/health", response_model=HealthOut)
def health(served: Served) -> dict:
    service = served.service
    dataset = service.bundle.config.data.dataset
    return {"status": "ok", **served.source, "dataset": dataset, "neurons": int(service.bundle.sae.n_latents)}


@api.get("/neurons", response_model=list[NeuronOut], responses=GUARDED)
def neurons(served: Served) -> list[dict]:
    service = served.service
    return [entry for j in range(service.bundle.sae.n_latents) for entry in service.describe_neuron(j)]


@api.get("/neurons/{id_or_label}", response_model=list[NeuronOut], responses=responses(401, 404))
def neuron(id_or_label: str, served: Served) -> list[dict]:
    return served.service.describe_neuron(id_or_label)


async def _who(served: Backend, body: WhoIn) -> int | Folded:
    """The table index of `user_id`, or the user folded in from `history` (checked here, placed by the backend)."""
    if body.history is None:
        return served.service.user_index(body.user_id)
    return await served.place(served.service.history_indices(body.history))


@api.post("/recommend", response_model=RecommendOut, responses=responses(400, 401, 404, 409, 413, 422))
async def recommend(body: RecommendIn, served: Served) -> dict:
    loop, service = asyncio.get_running_loop(), served.service
    user = await _who(served, body)
    if service.resolved_already(body.interventions):  # the usual case: no search to run, no thread hop
        applied, calibrations = service.resolve(body.interventions)
    else:
        applied, calibrations = await loop.run_in_executor(None, service.resolve, body.interventions)
    items = await served.rank(RankRequest(user, applied, body.k, body.exclude_seen))
    if isinstance(items, ConflictError):  # this request alone failed; its batch did not
        raise items
    for calibration in calibrations:
        effect = await loop.run_in_executor(None, service.user_effect, user, calibration["target"], applied)
        calibration["user_effect"] = effect
    if applied:
        explanation = f"the frozen model's scores after {len(applied)} intervention(s) on SAE codes"
    else:
        explanation = "the frozen recommender's own ranking"
    if isinstance(user, Folded):
        explanation += f", for a user folded in from {len(user.history)} history item(s)"
    return {
        "items": items,
        "interventions_applied": [dataclasses.asdict(i) for i in applied],
        "calibration": calibrations,
        "explanation": explanation,
    }


@api.post("/explain", response_model=ExplainOut, responses=responses(400, 401, 404, 413, 422))
async def explain(body: ExplainIn, served: Served) -> dict:
    service = served.service
    user = await _who(served, body)
    neurons = await asyncio.get_running_loop().run_in_executor(None, service.explain, user, body.item_id, body.top)
    return {"user_id": body.user_id, "item_id": body.item_id, "neurons": neurons}


@api.get("/users/{user_id}/profile", response_model=ProfileOut, responses=responses(401, 404))
def profile(user_id: str, served: Served) -> dict:
    return {"user_id": user_id, "neurons": served.service.profile(user_id)}
