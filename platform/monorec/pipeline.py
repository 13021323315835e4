"""Whole runs built from the core, shared by the command-line jobs and (later) Ray and MLflow layers."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from monorec.config import ExperimentConfig, config_hash, recommender_hash, to_dict
from monorec.data import InteractionData, Split, load_split
from monorec.devices import resolve_device
from monorec.evaluation import evaluate_ranking, popularity_scores
from monorec.evaluation.fidelity import list_fidelity
from monorec.evaluation.ranking import summarize
from monorec.interpret import NeuronReport, interpret_sae, write_report
from monorec.interventions import Steerer, filtering, popularity_control
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
FILTERING_USERS = 50  # users in the filtering case study: those with the most of the concept


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


def run_sae(config: ExperimentConfig, output_dir: Path) -> dict:
    """Train (or load) the recommender, train the SAE through it, interpret and measure it."""
    fingerprint = config_hash(config)
    write_json(output_dir / "config.json", to_dict(config))
    recommender = trained_recommender(config, output_dir / RECOMMENDER_DIR)
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
    metrics["interventions"] = case_studies(Steerer(recommender, sae, report.labels), data, split, report)
    metrics.update(train_seconds=result.train_seconds, epochs=result.epochs, device=result.device, config_hash=fingerprint)
    save_sae(sae, output_dir, {"path": RECOMMENDER_DIR, "config_hash": recommender_hash(config),
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


def case_studies(steerer: Steerer, data: InteractionData, split: Split, report: NeuronReport) -> dict:
    """Filtering with the purest genre neuron (Horror where there is one) and popularity suppression.

    Filtering acts on the FILTERING_USERS test users whose top-10 holds the most of the concept.
    """
    device = steerer.user_codes.codes.device
    users = torch.as_tensor(split.test_users, device=device)
    studies = {}
    if report.purity:
        concept = "Horror" if "Horror" in report.purity else max(report.purity, key=lambda c: report.purity[c]["p@10"])
        matrix, names = data.concept_matrix()
        concept_items = torch.as_tensor(matrix[:, names.index(concept)], device=device)
        top = masked_scores(steerer, split, users, []).topk(10, dim=1).indices
        heaviest = users[concept_items[top].float().mean(1).argsort(descending=True)[:FILTERING_USERS]]
        neuron = report.purity[concept]["neuron"]
        studies["filtering"] = {"concept": concept, **filtering(steerer, split, heaviest, neuron, concept_items)}
    percentile = data.items["popularity_percentile"].to_numpy()
    studies["popularity"] = popularity_control(steerer, split, users, report.popularity_neuron["neuron"], percentile)
    return studies
