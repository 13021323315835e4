"""Whole runs built from the core, shared by the command-line jobs, the search and the reproduction.

    run_recommender: data -> trained recommender -> RecommenderRun (metrics.json)
    run_sae:         recommender -> trained SAE -> finish_sae -> SAERun (metrics.json, report.md)

`finish_sae` (evaluate, interpret, steer, write) is the one ending for every SAE, whether
trained here, on Ray Train workers, or picked as the best trial of a search.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np
import torch

from monorec.case_studies import run_case_studies
from monorec.config import ExperimentConfig, config_hash, recommender_hash, run_hash
from monorec.data import InteractionData, Split, load_split
from monorec.data.profile import DataProfile
from monorec.data.sequences import tie_shares
from monorec.devices import resolve_device
from monorec.evaluation import evaluate_ranking, popularity_scores
from monorec.evaluation.fidelity import list_fidelity
from monorec.evaluation.ranking import evaluated_users, rows_per_tile, summarize
from monorec.explorer import explorer_payload, write_explorer
from monorec.extras import require
from monorec.interpret import interpret_sae, write_report
from monorec.interventions import Calibrator, Steerer
from monorec.recommenders import TwoTowerRecommender, fit_recommender_kind, load_recommender, save_recommender
from monorec.recommenders.registry import fold_in_for
from monorec.results import (
    CaseStudies,
    DatasetSummary,
    Fidelity,
    RankingMetrics,
    RecommenderRun,
    SAERun,
    TrainingSummary,
    read_result,
    write_result,
)
from monorec.sae import SparseAutoencoder, build_sae, reconstructed_scorer, save_sae, train_sae
from monorec.sae.training import sae_folds
from monorec.stages import stage
from monorec.storage import write_json
from monorec.training import FitOptions, TrainResult
from monorec.typed import to_dict

log = logging.getLogger(__name__)

RECOMMENDER_DIR = "recommender"  # where run_sae keeps the recommender it explains
METRICS = "metrics.json"


def run_recommender(
    config: ExperimentConfig, output_dir: Path, loaded: tuple[InteractionData, Split] | None = None
) -> RecommenderRun:
    """Load data (unless `loaded`), train, evaluate against the popularity baseline, save model and `metrics.json`."""
    check_extras(config)
    fingerprint = recommender_hash(config)
    write_json(output_dir / "config.json", to_dict(config))
    data, split = loaded or load_and_split(config)
    log.info("%s: %d test users", data.name, len(split.test_users))
    remote = None
    if config.ray.num_workers > 0:  # Ray Train workers run the kind's own training task, each on its shard
        remote = functools.partial(
            _fit_on_ray, "recommender", config=config, output_dir=output_dir, fingerprint=fingerprint, split=split
        )
    with stage(config.model.traits.stage):
        model, result = fit_recommender_kind(config, data, split, FitOptions(output_dir, fingerprint), remote)
    k, rows, device = config.eval.k, tile_rows(config, model), result.device
    users = evaluated_users(split, config.eval.max_users)
    with stage("evaluate recommender"):
        ranking = evaluate_ranking(model.rank_scores, split, k, rows, device, users)
        baseline = evaluate_ranking(popularity_scores(split, device), split, k, rows, device, users)
    log.info("%s: %s", config.model.kind, summarize(ranking))
    log.info("popularity baseline: %s", summarize(baseline))
    ties = tie_shares(data, split) if split.ordered else None
    counts = (data.n_users, data.n_items, data.n_interactions, len(split.test_users))
    summary = DatasetSummary(data.name, *counts, data.checksum, len(users), ties)
    run = RecommenderRun(summary, ranking, baseline, result.summary(), fingerprint)
    metadata = {"dataset": data.name, "dataset_checksum": data.checksum, "config_hash": fingerprint}
    save_recommender(model, output_dir, metadata)
    write_result(run, output_dir / METRICS)
    return run


def check_extras(config: ExperimentConfig) -> None:
    """Before any work: the extras a run of `config` needs are installed (its model kind's; Ray's for workers)."""
    if (extra := config.model.traits.extra) is not None:
        require(extra, purpose=f"model.kind {config.model.kind}")
    if config.ray.num_workers > 0:
        require("ray", purpose=f"ray.num_workers {config.ray.num_workers} (Ray Train)")


def load_and_split(config: ExperimentConfig) -> tuple[InteractionData, Split]:
    """The dataset and its split, with the data profile (and any sparsity warning) in the log."""
    with stage("load and split data"):
        data, split = load_split(config.data)
    profile = DataProfile.of(data)
    log.info("%s: %s", data.name, profile.describe())
    if (warning := profile.warning()) is not None:
        log.warning("%s: %s", data.name, warning)
    return data, split


def tile_rows(config: ExperimentConfig, recommender: TwoTowerRecommender) -> int:
    """Users scored at once against every item, within `eval.tile_mb` for this model and catalogue."""
    return rows_per_tile(recommender.n_items, config.eval.tile_mb, recommender.bytes_per_score())


def _fit_on_ray(
    stage: str,
    module: torch.nn.Module,
    config: ExperimentConfig,
    output_dir: Path,
    fingerprint: str,
    split: Split,
    recommender: TwoTowerRecommender | None = None,
) -> TrainResult:
    """Train `module` under Ray Train (imported only here: the core never needs Ray) and load its weights."""
    from monorec.distributed.train import fit_on_ray

    state, history = fit_on_ray(stage, config, output_dir, fingerprint, split, recommender)
    module.load_state_dict(state)
    module.eval()
    device = str(resolve_device(config.train.device if stage == "recommender" else config.sae_train.device))
    return TrainResult.from_history(history, device)  # the driver evaluates on its own device


def trained_recommender(
    config: ExperimentConfig, folder: Path, loaded: tuple[InteractionData, Split] | None = None
) -> TwoTowerRecommender:
    """Load the recommender saved in `folder` for this exact config, or train and save it there."""
    if (folder / METRICS).is_file():
        model, metadata = load_recommender(folder)
        if metadata.get("config_hash") == recommender_hash(config):
            log.info("using the recommender trained earlier in %s", folder)
            return model
    run_recommender(config, folder, loaded)
    return load_recommender(folder)[0]


def run_sae(config: ExperimentConfig, output_dir: Path, recommender_dir: Path | None = None) -> SAERun:
    """Train (or load) the recommender, train the SAE through it, then `finish_sae`.

    The recommender lives in `recommender_dir` (default: inside `output_dir`); several SAE runs
    can share one, as the reproduction's ablations do, and then share its reference metrics.
    """
    check_extras(config)
    fingerprint = run_hash(config)
    write_json(output_dir / "config.json", to_dict(config))
    recommender_dir = recommender_dir or output_dir / RECOMMENDER_DIR
    data, split = load_and_split(config)
    recommender = trained_recommender(config, recommender_dir, (data, split))
    sae = build_sae(config, recommender.embedding_dim)
    with stage("train sae"):
        if config.ray.num_workers > 0:
            result = _fit_on_ray("sae", sae, config, output_dir, fingerprint, split, recommender)
        else:
            result = train_sae(sae, recommender, split, config.sae_train, FitOptions(output_dir, fingerprint))
    reference = {"path": os.path.relpath(recommender_dir, output_dir), "config_hash": recommender_hash(config)}
    return finish_sae(sae, recommender, data, split, config, result.summary(), output_dir, reference, recommender_dir)


def finish_sae(
    sae: SparseAutoencoder,
    recommender: TwoTowerRecommender,
    data: InteractionData,
    split: Split,
    config: ExperimentConfig,
    training: TrainingSummary,
    output_dir: Path,
    recommender_reference: dict,
    recommender_dir: Path | None = None,
) -> SAERun:
    """Measure (on report users), interpret and steer a trained SAE; write its files and metrics.json.

    It runs on this process's `sae_train.device`, wherever the SAE was trained (here, on Ray
    Train workers, or in a Tune trial). `recommender_dir` caches the frozen recommender's own
    ranking of the report users there, so that the runs sharing one recommender compute it once.
    """
    device = resolve_device(config.sae_train.device)
    recommender.to(device)
    sae.to(device).eval()
    folds = sae_folds(split, config.sae_train)
    with stage("evaluate sae"):
        fidelity = evaluate_sae(sae, recommender, split, config, device, folds.report, recommender_dir)
    with stage("interpret sae"):
        report = interpret_sae(sae, recommender, data, config.interpret)
    studies: CaseStudies = {}
    if config.case_studies.enabled:
        with stage("case studies"):
            steerer = Steerer(recommender, sae, report.labels, data.item_ids, data.items)
            calibrator = Calibrator.build(steerer, *split.seen_csr(), folds.validation, data.items)
            fold_in = fold_in_for(config.model.kind, config.train)
            studies = run_case_studies(calibrator, data, split, report, config.case_studies, folds.report, fold_in)
    run = SAERun(fidelity, report.mono, studies, training, run_hash(config))
    reference = {**recommender_reference, "dataset": data.name, "dataset_checksum": data.checksum}
    save_sae(sae, output_dir, reference)
    title = f"SAE report: {data.name} {config.model.kind}"
    write_report(report, fidelity, output_dir, title)
    write_result(run, output_dir / METRICS)  # the run is complete from here on; the page is a view of it
    encode = lambda embeddings: sae.encode(embeddings).codes  # noqa: E731
    items = recommender.item_embeddings()
    payload = explorer_payload(report.neurons, encode, items, data.items, title, config.interpret.chunk_size)
    write_explorer(output_dir, payload)
    log.info(
        "report users %d: rbo %.3f (truncated@%d) %.3f (extrapolated@%d)  ms %.3f  dead %.2f  labelled %d  %s",
        *(fidelity.users, fidelity.rbo_truncated, fidelity.paper_depth, fidelity.rbo_extrapolated, fidelity.depth),
        *(run.mono.ms, run.mono.dead_ratio, run.mono.n_labelled, output_dir / "report.md"),
    )
    return run


def evaluate_sae(
    sae: SparseAutoencoder,
    recommender: TwoTowerRecommender,
    split: Split,
    config: ExperimentConfig,
    device: torch.device,
    users: np.ndarray,
    cache_dir: Path | None = None,
) -> Fidelity:
    """Fidelity of the reconstruction on `users` (report users): list agreement and ranking quality."""
    reconstructed = reconstructed_scorer(sae, recommender)
    index = torch.as_tensor(users, device=device)
    settings, k, rows = config.interpret, config.eval.k, tile_rows(config, recommender)
    agreement = list_fidelity(
        recommender.rank_scores,
        reconstructed,
        split,
        index,
        settings.fidelity_k,
        settings.paper_rbo_depth,
        settings.rbo_p,
        rows,
        settings.fidelity_mask,
    )
    original = reference_ranking(recommender, split, config, device, users, cache_dir)
    rebuilt = evaluate_ranking(reconstructed, split, k, rows, device, users).full
    return Fidelity(
        users=len(users),
        paper_depth=settings.paper_rbo_depth,
        rbo_truncated=agreement.rbo_truncated,
        kendall_tau_ranks=agreement.kendall_tau_ranks,
        depth=settings.fidelity_k,
        rbo_extrapolated=agreement.rbo_extrapolated,
        kendall_tau_scores=agreement.kendall_tau_scores,
        original=original,
        reconstructed=rebuilt,
    )


def reference_ranking(
    recommender: TwoTowerRecommender,
    split: Split,
    config: ExperimentConfig,
    device: torch.device,
    users: np.ndarray,
    cache_dir: Path | None,
) -> RankingMetrics:
    """The frozen recommender's own full ranking of `users`, computed once per recommender and user set."""
    key = config_hash({"recommender": recommender_hash(config), "users": users.tolist(), "eval": to_dict(config.eval)})
    path = cache_dir / f"reference_ranking_{key}.json" if cache_dir is not None else None
    if path is not None and path.is_file():
        return read_result(RankingMetrics, path)
    rows = tile_rows(config, recommender)
    metrics = evaluate_ranking(recommender.rank_scores, split, config.eval.k, rows, device, users).full
    if path is not None:
        write_result(metrics, path)
    return metrics
