"""The search's Pareto front, measured again on the report users: `DIR/pareto.json`, `plots/pareto_paper.png`.

The front is chosen where the best trial is, on the validation users: the feasible trials that
no other beats on both of the objective's terms (`tune.fidelity`, `tune.monosemanticity`).
Choosing on a fold biases its numbers upward, so each front trial's SAE (its last checkpoint)
is measured again on the report users, which chose nothing, with the paper's own measures:
truncated RBO and Kendall tau of ranks at `interpret.paper_rbo_depth`, MS, and the genres whose
best neuron reaches purity@10 of 0.9. The figure sets that front beside the paper's beta ablation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from ray.tune import Result

from monorec import plots
from monorec.config import ExperimentConfig
from monorec.data import InteractionData, Split
from monorec.devices import resolve_device
from monorec.evaluation.fidelity import list_fidelity
from monorec.interpret import item_concepts
from monorec.paper import BETA_ABLATION
from monorec.pipeline import tile_rows
from monorec.recommenders import TwoTowerRecommender
from monorec.results import FrontPoint, ParetoFront, TrialReport, from_json, write_result
from monorec.sae import reconstructed_scorer
from monorec.sae.training import sae_folds
from monorec.tracking import Tracker
from monorec.tune.finish import checkpoint_sae
from monorec.tune.search import INFEASIBLE, genre_measures, non_dominated, with_params

PARETO = "pareto.json"
FIGURE = "pareto_paper.png"
PURE_AT = 0.9  # a genre counts as captured by a neuron at least 9 of whose top 10 items carry it
PAPER_CELL = "ml1m_mf"  # the only cell of the paper's beta ablation


def measure_front(
    config: ExperimentConfig,
    trials: Iterable[Result],
    recommender: TwoTowerRecommender,
    data: InteractionData,
    split: Split,
) -> ParetoFront:
    """The feasible trials on the validation front, each measured on the report users."""
    feasible = [t for t in trials if t.metrics and t.metrics.get("objective", INFEASIBLE) > INFEASIBLE]
    scores = np.array([[t.metrics["fidelity"], t.metrics["monosemanticity"]] for t in feasible]).reshape(-1, 2)
    device = resolve_device(config.sae_train.device)
    recommender.to(device)
    users = torch.as_tensor(sae_folds(split, config.sae_train).report, device=device)
    concepts = item_concepts(data)
    genres = concepts.matrix[:, concepts.family("genre")]
    front = [t for t, on in zip(feasible, non_dominated(scores)) if on]
    points = [_measure(trial, config, recommender, split, users, genres) for trial in front]
    return ParetoFront(
        fidelity=config.tune.fidelity,
        monosemanticity=config.tune.monosemanticity,
        report_users=len(users),
        paper_depth=config.interpret.paper_rbo_depth,
        genres=genres.shape[1],
        pure_at=PURE_AT,
        points=sorted(points, key=lambda point: point.validation.fidelity),
    )


def _measure(
    trial: Result,
    config: ExperimentConfig,
    recommender: TwoTowerRecommender,
    split: Split,
    users: torch.Tensor,
    genres: np.ndarray,
) -> FrontPoint:
    trial_config = with_params(config, dict(trial.config))
    sae = checkpoint_sae(trial, trial_config, recommender).to(users.device)
    settings = config.interpret
    agreement = list_fidelity(
        recommender.rank_scores,
        reconstructed_scorer(sae, recommender),
        split,
        users,
        settings.fidelity_k,
        settings.paper_rbo_depth,
        settings.rbo_p,
        tile_rows(config, recommender),
        settings.fidelity_mask,
    )
    measures = genre_measures(sae, recommender, genres, trial_config)
    reported = {field.name: trial.metrics[field.name] for field in dataclasses.fields(TrialReport)}
    return FrontPoint(
        trial=trial.metrics["trial_id"],
        checkpoint=trial.checkpoint.path,
        params=dict(trial.config),
        validation=from_json(TrialReport, reported, "trial"),
        rbo_truncated=agreement.rbo_truncated,
        kendall_tau_ranks=agreement.kendall_tau_ranks,
        ms=measures.ms,
        pure_genres=int((measures.best_purity >= PURE_AT).sum()),
    )


def paper_points() -> dict[str, tuple[float, float]]:
    """The paper's (RBO, MS) at each beta of its ablation, labelled for the figure."""
    return {f"paper, beta {beta:g}": (rbo, ms) for beta, (rbo, _, ms) in BETA_ABLATION[PAPER_CELL].items()}


def write_front(tracker: Tracker, parent: str, front: ParetoFront, output_dir: Path) -> None:
    """Write `pareto.json` and `plots/pareto_paper.png` and log both to the search's parent run."""
    path = output_dir / PARETO
    write_result(front, path)
    points = [(point.rbo_truncated, point.ms) for point in front.points]
    figure = plots.paper_front(points, paper_points(), front.paper_depth, output_dir / "plots" / FIGURE)
    tracker.log_artifact(parent, path)
    tracker.log_artifact(parent, figure, "plots")
