"""The SAE search: its space, its objective, and one trial (a Ray Tune function).

One number per trial that a user can read:

    objective = w * monosemanticity + (1 - w) * fidelity

monosemanticity is the MS score over all neurons, dead ones at 0 (or, with
`tune.monosemanticity: purity`, the mean over genres of the best neuron's purity@10); each
report carries both (`ms`, `purity`) whichever drives the objective. fidelity is an RBO on the
validation users, never the report users, which only measure the trials the search chose:
`tune.fidelity: extrapolated` (ours, RBO@20, identical lists score 1) or `truncated` (the
paper's, RBO@29 without a tail, identical lists score about 0.95), both from the training
loop's per-epoch check. Both terms lie in [0, 1]. A trial whose dead-neuron ratio exceeds
`tune.max_dead_ratio` is infeasible and scores -1. The objective is reported after every
epoch, so ASHA stops weak trials early and Optuna's TPE proposes the next loss weights (alpha,
beta, lambda1, lambda2, rho; optionally m and the activation) over one fixed recommender,
trained once and cached by its config hash.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import ray
from ray import tune

from monorec.config import ExperimentConfig, recommender_hash, run_hash
from monorec.config.tune import SEARCHABLE
from monorec.data import InteractionData
from monorec.distributed.payload import payload_config, payload_recommender, restore_checkpoint
from monorec.errors import ConfigError
from monorec.interpret import item_concepts
from monorec.interpret.neurons import monosemanticity, purity
from monorec.paths import monorec_home
from monorec.recommenders import TwoTowerRecommender
from monorec.results import TrialReport, mlflow_metrics
from monorec.sae import SparseAutoencoder, build_sae, train_sae
from monorec.sae.scan import scan
from monorec.tracking import Tracker
from monorec.training import FitOptions
from monorec.typed import to_dict

INFEASIBLE = -1.0
PURITY_K = 10  # the purity objective: mean over concepts of the best neuron's purity@10


def recommender_cache(config: ExperimentConfig) -> Path:
    """Where searches keep the recommender they share, one folder per recommender config."""
    return monorec_home() / "recommenders" / recommender_hash(config)


def check_searchable(config: ExperimentConfig) -> None:
    """Fail before any trial starts on a search with nothing to search."""
    settings = config.tune
    if not settings.search and not settings.n_latents and not settings.activation:
        raise ConfigError("tune.search is empty: give at least one of alpha, beta, lambda1, lambda2, rho a range")


def search_space(config: ExperimentConfig) -> dict:
    space: dict = {
        name: (tune.loguniform if bounds.log else tune.uniform)(bounds.low, bounds.high)
        for name, bounds in config.tune.search.items()
    }
    if config.tune.n_latents:
        space["n_latents"] = tune.choice(config.tune.n_latents)
    if config.tune.activation:
        space["activation"] = tune.choice(config.tune.activation)
    return space


def with_params(config: ExperimentConfig, params: dict) -> ExperimentConfig:
    """The experiment config of one trial."""
    sae = dataclasses.replace(
        config.sae,
        n_latents=params.get("n_latents", config.sae.n_latents),
        activation=params.get("activation", config.sae.activation),
        matryoshka=[] if "n_latents" in params else config.sae.matryoshka,
    )
    weights = {name: float(value) for name, value in params.items() if name in SEARCHABLE}
    return dataclasses.replace(config, sae=sae, sae_train=dataclasses.replace(config.sae_train, **weights))


def non_dominated(scores: np.ndarray) -> np.ndarray:
    """(n,) whether each row of (n, 2) scores, both maximised, has no other row at least as good
    on both and better on one: the trials that trade one term for the other, not lose on both."""
    at_least = (scores[None, :, :] >= scores[:, None, :]).all(2)
    better = (scores[None, :, :] > scores[:, None, :]).any(2)
    return ~(at_least & better).any(1)


def objective(mono: float, fidelity: float, dead: float, config: ExperimentConfig) -> float:
    if dead > config.tune.max_dead_ratio:
        return INFEASIBLE
    return config.tune.weight * mono + (1 - config.tune.weight) * fidelity


@dataclasses.dataclass(frozen=True)
class GenreMeasures:
    """How monosemantic an SAE's neurons are over the items (no users: the same for every fold)."""

    ms: float  # MS over all neurons, dead ones at 0
    best_purity: np.ndarray  # (genres,) each genre's best neuron's purity@10


def genre_measures(
    sae: SparseAutoencoder, recommender: TwoTowerRecommender, genres: np.ndarray, config: ExperimentConfig
) -> GenreMeasures:
    """MS and best purity@10 for the SAE's current weights, from one scan (leaves it in eval mode)."""
    sae.eval()
    top = scan(
        lambda e: sae.encode(e).codes,
        recommender.item_embeddings().detach(),
        max(PURITY_K, config.interpret.ms_top_n),
        config.interpret.chunk_size,
    )
    ms = float(monosemanticity(top, genres, config.interpret.ms_top_n).mean())
    return GenreMeasures(ms, purity(top, genres, PURITY_K).max(0))


def trial_report(stats: dict, measures: GenreMeasures, config: ExperimentConfig) -> TrialReport:
    """One epoch's scores from the training loop's stats (on the validation users) and the genre measures."""
    mean_purity = float(measures.best_purity.mean())
    mono = measures.ms if config.tune.monosemanticity == "ms" else mean_purity
    fidelity = stats[f"rbo_{config.tune.fidelity}"]
    return TrialReport(
        epoch=stats["epoch"],
        objective=objective(mono, fidelity, stats["dead_ratio"], config),
        monosemanticity=mono,
        fidelity=fidelity,
        dead_ratio=stats["dead_ratio"],
        loss=stats["loss"],
        metric=config.tune.monosemanticity,
        ms=measures.ms,
        purity=mean_purity,
    )


def genre_matrix(data: InteractionData) -> np.ndarray:
    """(items, genres) the items' genre labels, all a trial needs of the dataset beyond its split."""
    concepts = item_concepts(data)
    return concepts.matrix[:, concepts.family("genre")]


def run_trial(params: dict, payload: dict) -> None:
    """One trial: train the SAE on the shared recommender, report and log every epoch.

    The split and genre labels come in the payload, from Ray's object store (shared by the
    trials of a node), so no trial reads or splits the dataset again, wherever it runs.
    """
    config = with_params(payload_config(payload), params)
    tracker = Tracker(payload["tracking_uri"])
    trial_name = tune.get_context().get_trial_name()
    run_id = tracker.nested_run(payload["experiment_id"], payload["parent_run_id"], trial_name, payload["tags"])
    node = ray.get_runtime_context().get_node_id()
    tracker.set_tag(run_id, "node", node)  # the node of its latest attempt: a restarted trial moves
    tracker.log_params(run_id, {"trial": params, "sae": to_dict(config.sae)})
    with tempfile.TemporaryDirectory() as local:
        restore_checkpoint(tune.get_checkpoint(), Path(local))

        def on_report(report: TrialReport, stats: dict) -> None:
            epoch_stats = {name: value for name, value in stats.items() if name not in ("epoch", "samples")}
            metrics = {**mlflow_metrics(report, "tune/"), **mlflow_metrics(epoch_stats, "train/")}
            tracker.log_metrics(run_id, metrics, step=report.epoch)
            extra = {"mlflow_run_id": run_id, "node_id": node}
            tune.report({**to_dict(report), **extra}, checkpoint=tune.Checkpoint.from_directory(local))

        # The run is closed by the driver: ASHA may stop this function at any report.
        train_trial(config, payload, Path(local), on_report)


def train_trial(
    config: ExperimentConfig, payload: dict, folder: Path, on_report: Callable[[TrialReport, dict], None]
) -> None:
    """A trial's work without Ray or MLflow, so that it runs in-process too: the SAE trained on the
    payload's recommender and split (checkpoints in `folder`), `on_report` called after every epoch
    with the epoch's report and the training loop's stats."""
    recommender = payload_recommender(payload)
    sae = build_sae(config, recommender.embedding_dim)

    def on_epoch(stats: dict) -> None:
        measures = genre_measures(sae, recommender, payload["genres"], config)
        sae.train()
        on_report(trial_report(stats, measures, config), stats)

    train_sae(sae, recommender, payload["split"], config.sae_train, FitOptions(folder, run_hash(config), on_epoch))
