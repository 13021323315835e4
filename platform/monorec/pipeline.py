"""Whole runs built from the core, shared by the command-line jobs and (later) Ray and MLflow layers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from monorec.config import CaseStudyConfig, ExperimentConfig, config_hash, recommender_hash, to_dict
from monorec.data import InteractionData, Split, load_split
from monorec.devices import resolve_device
from monorec.evaluation import evaluate_ranking, popularity_scores
from monorec.evaluation.fidelity import list_fidelity
from monorec.evaluation.ranking import summarize
from monorec.interpret import NeuronReport, interpret_sae, write_report
from monorec.interventions import Steerer, filtering, popularity_control, promotion
from monorec.interventions.recipes import masked_scores
from monorec.recommenders import (
    TrainResult,
    TwoTowerRecommender,
    build_recommender,
    load_recommender,
    save_recommender,
    train_recommender,
)
from monorec.sae import SparseAutoencoder, reconstructed_scorer, save_sae, train_sae
from monorec.storage import write_json

log = logging.getLogger(__name__)

RECOMMENDER_DIR = "recommender"  # where run_sae keeps the recommender it explains


def run_recommender(config: ExperimentConfig, output_dir: Path) -> dict:
    """Load data, train, evaluate against the popularity baseline, save model and `metrics.json`."""
    fingerprint = recommender_hash(config)
    write_json(output_dir / "config.json", to_dict(config))
    data, split = load_split(config.data)
    log.info(
        "%s: %d users, %d items, %d interactions; %d test users",
        data.name, data.n_users, data.n_items, data.n_interactions, len(split.test_users),
    )  # fmt: skip
    model = build_recommender(config.model, data.n_users, data.n_items, config.train.seed)
    if config.train.num_workers > 0:
        result = _fit_on_ray("recommender", model, config, output_dir, fingerprint)
    else:
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


def _fit_on_ray(
    stage: str,
    module: torch.nn.Module,
    config: ExperimentConfig,
    output_dir: Path,
    fingerprint: str,
    recommender: TwoTowerRecommender | None = None,
) -> TrainResult:
    """Train `module` under Ray Train (imported only here: the core never needs Ray) and load its weights."""
    from monorec.distributed import fit

    state, history = fit(stage, config, output_dir, fingerprint, recommender)
    module.load_state_dict(state)
    module.eval()
    seconds, samples = sum(h["seconds"] for h in history), sum(h.get("samples", 0) for h in history)
    return TrainResult(
        epochs=len(history),
        train_seconds=seconds,
        samples_per_second=samples / seconds if seconds else 0.0,
        final_loss=history[-1]["loss"] if history else float("nan"),
        device=str(resolve_device(config.train.device)),  # where the driver evaluates
        history=history,
    )


def trained_recommender(config: ExperimentConfig, folder: Path) -> TwoTowerRecommender:
    """Load the recommender saved in `folder` for this exact config, or train and save it there."""
    if (folder / "metrics.json").is_file():
        model, metadata = load_recommender(folder)
        if metadata.get("config_hash") == recommender_hash(config):
            log.info("using the recommender trained earlier in %s", folder)
            return model
    run_recommender(config, folder)
    return load_recommender(folder)[0]


def run_sae(config: ExperimentConfig, output_dir: Path, recommender_dir: Path | None = None) -> dict:
    """Train (or load) the recommender, train the SAE through it, interpret and measure it.

    The recommender lives in `recommender_dir` (default: inside `output_dir`); several SAE runs
    can share one, as the reproduction's ablations do.
    """
    fingerprint = config_hash(config)
    write_json(output_dir / "config.json", to_dict(config))
    recommender_dir = recommender_dir or output_dir / RECOMMENDER_DIR
    recommender = trained_recommender(config, recommender_dir)
    data, split = load_split(config.data)
    torch.manual_seed(config.sae_train.seed)
    sae = SparseAutoencoder(recommender.embedding_dim, config.sae)
    if config.train.num_workers > 0:
        result = _fit_on_ray("sae", sae, config, output_dir, fingerprint, recommender)
    else:
        result = train_sae(sae, recommender, split, config.sae_train, output_dir, fingerprint)
    device = torch.device(result.device)
    recommender.to(device)
    metrics = evaluate_sae(sae, recommender, data, split, config, device)
    report = interpret_sae(sae, recommender, data, config.interpret)
    metrics.update(report.summary())
    steerer = Steerer(recommender, sae, report.labels)
    metrics["interventions"] = case_studies(steerer, data, split, report, config.case_studies)
    metrics.update(train_seconds=result.train_seconds, epochs=result.epochs, device=result.device, config_hash=fingerprint)
    save_sae(sae, output_dir, {"path": os.path.relpath(recommender_dir, output_dir), "config_hash": recommender_hash(config),
                               "dataset": data.name, "dataset_checksum": data.checksum})  # fmt: skip
    write_report(report, metrics, output_dir, f"SAE report: {data.name} {config.model.kind}")
    write_json(output_dir / "metrics.json", metrics)
    log.info("rbo@20 %.3f  ms %.3f  dead %.2f  labelled %d  report: %s",
             metrics["rbo@20"], metrics["ms"], metrics["dead_ratio"], metrics["n_labelled_neurons"],
             output_dir / "report.md")  # fmt: skip
    return metrics


def evaluate_sae(
    sae: SparseAutoencoder, recommender: TwoTowerRecommender, data: InteractionData, split: Split,
    config: ExperimentConfig, device: torch.device,
) -> dict:
    """Fidelity of the reconstruction on every test user: list agreement and ranking quality."""
    reconstructed = reconstructed_scorer(sae, recommender)
    users = torch.as_tensor(split.test_users, device=device)
    metrics = list_fidelity(recommender.rank_scores, reconstructed, split, users, config.interpret.fidelity_k,
                            config.interpret.rbo_p)  # fmt: skip
    k, chunk = config.eval.k, config.eval.chunk_size
    for name, scorer in (("original", recommender.rank_scores), ("reconstructed", reconstructed)):
        ranking = evaluate_ranking(scorer, split, k, chunk, device)
        metrics.update({f"{metric}_{name}": ranking[metric] for metric in (f"ndcg@{k}", f"hr@{k}", "mrr", "mpr")})
    return metrics


def case_studies(
    steerer: Steerer, data: InteractionData, split: Split, report: NeuronReport, settings: CaseStudyConfig
) -> dict:
    """Filtering, promotion (where the data has the concept) and popularity control, as configured."""
    device = steerer.user_codes.codes.device
    users = torch.as_tensor(split.test_users, device=device)
    matrix, names = data.concept_matrix()
    studies = {}
    if report.purity:
        concept = settings.filter_concept
        if concept not in report.purity:
            concept = max(report.purity, key=lambda c: report.purity[c]["p@10"])
        concept_items = torch.as_tensor(matrix[:, names.index(concept)], device=device)
        top = masked_scores(steerer, split, users, []).topk(10, dim=1).indices
        heaviest = users[concept_items[top].float().mean(1).argsort(descending=True)[: settings.filter_users]]
        neuron = report.purity[concept]["neuron"]
        studies["filtering"] = {"concept": concept, **filtering(steerer, split, heaviest, neuron, concept_items)}
    if settings.promote_concept in report.purity:
        studies["promotion"] = _promotion(steerer, data, split, report, settings, users)
    percentile = data.items["popularity_percentile"].to_numpy()
    studies["popularity"] = popularity_control(steerer, split, users, report.popularity_neuron["neuron"], percentile)
    return studies


def _promotion(
    steerer: Steerer, data: InteractionData, split: Split, report: NeuronReport, settings: CaseStudyConfig,
    users: torch.Tensor,
) -> dict:
    """Raise one item's concept neuron for the users whose taste is elsewhere (METHOD.md section 5)."""
    matrix, names = data.concept_matrix()
    carriers = np.flatnonzero(matrix[:, names.index(settings.promote_concept)])
    named = np.flatnonzero(data.items["name"].to_numpy() == settings.promote_item)
    item = int(named[0]) if len(named) else int(carriers[np.argmax(data.items["popularity"].to_numpy()[carriers])])
    audiences = [names.index(a) for a in settings.audiences if a in names]
    dominant = dominant_concepts(split, users.cpu().numpy(), matrix)
    audience = users[torch.as_tensor(np.isin(dominant, audiences), device=users.device)]
    neuron = report.purity[settings.promote_concept]["neuron"]
    result = promotion(steerer, split, audience, item, neuron, k=settings.promote_k)
    return {"concept": settings.promote_concept, "item": str(data.items["name"].iloc[item]),
            "audiences": [names[a] for a in audiences], **result}  # fmt: skip


def dominant_concepts(split: Split, users: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Each user's most frequent concept over their training items (-1 when none carries one)."""
    indptr, items = split.train_csr()
    counts = np.stack([matrix[items[indptr[u] : indptr[u + 1]]].sum(0) for u in users]) if len(users) else matrix[:0]
    return np.where(counts.max(1) > 0, counts.argmax(1), -1)
