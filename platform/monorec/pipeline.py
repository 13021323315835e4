"""Whole runs built from the core, shared by the command-line jobs and (later) Ray and MLflow layers."""

from __future__ import annotations

import logging
from pathlib import Path

from monorec.config import RecommenderJobConfig, config_hash, to_dict
from monorec.data import load_split
from monorec.evaluation import evaluate_ranking, popularity_scores
from monorec.evaluation.ranking import summarize
from monorec.recommenders import build_recommender, save_recommender, train_recommender
from monorec.storage import write_json

log = logging.getLogger(__name__)


def run_recommender(config: RecommenderJobConfig, output_dir: Path) -> dict:
    """Load data, train, evaluate against the popularity baseline, save model and `metrics.json`."""
    fingerprint = config_hash(config)
    write_json(output_dir / "config.json", to_dict(config))
    data, split = load_split(config.data)
    log.info(
        "%s: %d users, %d items, %d interactions; %d test users",
        data.name, data.n_users, data.n_items, data.n_interactions, len(split.test_users),
    )  # fmt: skip
    model = build_recommender(config.model, data.n_users, data.n_items, config.train.seed)
    result = train_recommender(model, split, config.train, checkpoint_dir=output_dir, fingerprint=fingerprint)
    device = result.device
    metrics = evaluate_ranking(model.rank_scores, split, config.eval.k, config.eval.chunk_size, device)
    baseline = evaluate_ranking(popularity_scores(split, device), split, config.eval.k, config.eval.chunk_size, device)
    log.info("%s: %s", config.model.kind, summarize(metrics))
    log.info("popularity baseline: %s", summarize(baseline))
    metrics.update({f"popularity_{name}": value for name, value in baseline.items()})
    metrics.update(
        n_users=data.n_users,
        n_items=data.n_items,
        n_interactions=data.n_interactions,
        n_test_users=len(split.test_users),
        epochs=result.epochs,
        train_seconds=result.train_seconds,
        samples_per_second=result.samples_per_second,
        final_loss=result.final_loss,
        device=device,
        dataset_checksum=data.checksum,
        config_hash=fingerprint,
    )
    save_recommender(model, output_dir, {"dataset": data.name, "dataset_checksum": data.checksum, "config_hash": fingerprint})
    write_json(output_dir / "metrics.json", metrics)
    return metrics
