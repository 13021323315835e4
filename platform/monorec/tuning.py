"""The SAE search with Ray Tune, every trial a nested MLflow run, the best one registered.

One number per trial that a user can read:

    objective = w * monosemanticity + (1 - w) * fidelity

monosemanticity is the MS score (or, with `tune.monosemanticity: purity`, the mean over
concepts of the best neuron's purity@10); fidelity is RBO@20 on the validation users. Both lie
in [0, 1]. A trial whose dead-neuron ratio exceeds `tune.max_dead_ratio` is infeasible and scores
-1. The objective is reported after every epoch, so ASHA stops weak trials early and Optuna's
TPE proposes the next loss weights (alpha, beta, lambda1, lambda2, rho; optionally m and the
activation) over one fixed recommender, trained once and cached by its config hash.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from mlflow import MlflowClient
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from monorec import plots, tracking
from monorec.bundle import write_bundle
from monorec.config import ExperimentConfig, config_hash, from_dict, recommender_hash, to_dict
from monorec.data import load_split
from monorec.distributed import init_ray
from monorec.errors import ConfigError
from monorec.interpret import interpret_sae, item_concepts
from monorec.interpret.neurons import monosemanticity, purity
from monorec.paths import monorec_home
from monorec.pipeline import evaluate_sae, trained_recommender
from monorec.recommenders import recommender_from_state
from monorec.sae import SparseAutoencoder, train_sae
from monorec.sae.training import CHECKPOINT
from monorec.storage import load_checkpoint, write_json

log = logging.getLogger(__name__)

LOSS_WEIGHTS = ("alpha", "beta", "lambda1", "lambda2", "rho")
INFEASIBLE = -1.0
BUNDLE = "bundle"


def validate(config: ExperimentConfig) -> None:
    """Fail before any trial starts on a search that cannot run."""
    settings = config.tune
    if not settings.search and not settings.n_latents and not settings.activation:
        raise ConfigError("tune.search is empty: give at least one of alpha, beta, lambda1, lambda2, rho a range")
    for name, bounds in settings.search.items():
        if name not in LOSS_WEIGHTS:
            raise ConfigError(f"tune.search.{name}: can only search {list(LOSS_WEIGHTS)}")
        if bounds.low > bounds.high or bounds.low < 0 or (bounds.log and bounds.low <= 0):
            kind = "0 < low <= high for a log range" if bounds.log else "0 <= low <= high"
            raise ConfigError(f"tune.search.{name}: needs {kind}, got low={bounds.low}, high={bounds.high}")
    for name in LOSS_WEIGHTS:
        if getattr(config.sae_train, name) < 0:
            raise ConfigError(f"sae_train.{name} must be >= 0, got {getattr(config.sae_train, name)}")
    if not 0 <= settings.weight <= 1:
        raise ConfigError(f"tune.weight must be in [0, 1], got {settings.weight}")
    if settings.num_samples < 1 or settings.max_concurrent_trials < 1:
        raise ConfigError("tune.num_samples and tune.max_concurrent_trials must be >= 1")
    unknown = set(settings.activation) - {"relu", "topk", "batchtopk"}
    if unknown:
        raise ConfigError(f"tune.activation: unknown activations {sorted(unknown)}")


def search_space(config: ExperimentConfig) -> dict:
    space = {
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
    sae_train = dataclasses.replace(config.sae_train, **{k: float(v) for k, v in params.items() if k in LOSS_WEIGHTS})
    return dataclasses.replace(config, sae=sae, sae_train=sae_train)


def objective(mono: float, fidelity: float, dead: float, config: ExperimentConfig) -> float:
    if not np.isfinite(mono) or dead > config.tune.max_dead_ratio:
        return INFEASIBLE
    return config.tune.weight * mono + (1 - config.tune.weight) * fidelity


def monosemanticity_of(sae: SparseAutoencoder, recommender, genres: np.ndarray, config: ExperimentConfig) -> float:
    """The objective's monosemanticity term for the SAE's current weights (leaves it in eval mode)."""
    sae.eval()
    with torch.no_grad():
        codes = sae.encode(recommender.item_embeddings()).codes
    if config.tune.monosemanticity == "purity":
        return float(purity(codes, genres, 10).max(0).mean())
    scores = monosemanticity(codes, genres, config.interpret.ms_top_n)
    return float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")


def _trial(params: dict, payload: dict) -> None:
    """One trial: train the SAE on the shared recommender, report and log every epoch."""
    base = from_dict(ExperimentConfig, payload["config"])
    config = with_params(base, params)
    saved = payload["recommender"]
    recommender = recommender_from_state(saved["architecture"], saved["state"])
    data, split = load_split(config.data)
    concepts = item_concepts(data)
    genres = concepts.matrix[:, concepts.family("genre")]
    client = MlflowClient(payload["tracking_uri"])
    trial_name = tune.get_context().get_trial_name()
    run_id = _child_run(client, payload, trial_name)
    tracking.log_params(client, run_id, {"trial": params, "sae": to_dict(config.sae)})
    client.log_dict(run_id, to_dict(config), "config.json")
    torch.manual_seed(config.sae_train.seed)
    sae = SparseAutoencoder(recommender.embedding_dim, config.sae)
    with tempfile.TemporaryDirectory() as local:
        restored = tune.get_checkpoint()
        if restored is not None:
            with restored.as_directory() as folder:
                shutil.copytree(folder, local, dirs_exist_ok=True)

        def on_epoch(stats: dict) -> None:
            mono = monosemanticity_of(sae, recommender, genres, config)
            sae.train()
            metrics = {
                **{k: v for k, v in stats.items() if isinstance(v, (int, float))},
                "monosemanticity": mono,
                "ms" if config.tune.monosemanticity == "ms" else "mono/purity_10_mean": mono,
                "fidelity": stats["rbo@20"],
                "objective": objective(mono, stats["rbo@20"], stats["dead_ratio"], config),
                "mlflow_run_id": run_id,
            }
            tracking.log_metrics(client, run_id, metrics, step=stats["epoch"])
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(local))

        # The run is closed by the driver: ASHA may stop this function at any report.
        train_sae(sae, recommender, split, config.sae_train, Path(local), config_hash(config), on_epoch)


def _child_run(client: MlflowClient, payload: dict, trial_name: str) -> str:
    """The trial's nested run, reused when a resumed trial already has one."""
    existing = client.search_runs(
        [payload["experiment_id"]],
        filter_string=f"tags.`mlflow.parentRunId` = '{payload['parent_run_id']}' and tags.trial = '{trial_name}'",
    )
    if existing:
        return existing[0].info.run_id
    tags = {"mlflow.parentRunId": payload["parent_run_id"], "trial": trial_name, **payload["tags"]}
    return client.create_run(payload["experiment_id"], run_name=trial_name, tags=tags).info.run_id


def run_tune(config: ExperimentConfig, output_dir: Path, resume: bool = False) -> dict:
    """Search, then evaluate, bundle and register the best trial. Returns the best trial's metrics."""
    validate(config)
    uri = tracking.tracking_uri(config.tracking.uri)
    log.info("MLflow tracking store: %s", uri)
    client = MlflowClient(uri)
    name = f"monorec-{config.data.dataset}-{config.model.kind}"
    experiment = tracking.experiment_id(client, name)
    recommender = trained_recommender(config, _recommender_cache(config))
    data, split = load_split(config.data)
    tags = {"git_commit": tracking.git_commit(), "dataset_checksum": data.checksum, "config_hash": config_hash(config)}
    storage = _storage(config)
    path = f"{storage}/{config.tune.name}"
    parent = _parent_run(client, experiment, path, tags, resume)
    tracking.log_params(client, parent, to_dict(config))

    init_ray()
    payload = {
        "config": to_dict(config),
        "recommender": {"architecture": recommender.architecture(), "state": recommender.state_dict()},
        "tracking_uri": uri,
        "experiment_id": experiment,
        "parent_run_id": parent,
        "tags": tags,
    }
    trainable = tune.with_resources(
        tune.with_parameters(_trial, payload=payload),
        {"cpu": config.tune.cpus_per_trial, "gpu": config.tune.gpus_per_trial},
    )
    if resume:
        if not tune.Tuner.can_restore(path):
            raise ConfigError(f"nothing to resume at {path}: run without --resume first")
        tuner = tune.Tuner.restore(path, trainable, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=search_space(config),
            tune_config=tune.TuneConfig(
                metric="objective",
                mode="max",
                search_alg=OptunaSearch(seed=config.tune.seed),
                scheduler=ASHAScheduler(max_t=config.sae_train.epochs, grace_period=config.tune.grace_period),
                num_samples=config.tune.num_samples,
                max_concurrent_trials=config.tune.max_concurrent_trials,
            ),
            run_config=tune.RunConfig(name=config.tune.name, storage_path=storage, verbose=1),
        )
    results = tuner.fit()
    trials = _trial_table(results)
    _close_trial_runs(client, trials, config.sae_train.epochs)
    if trials.empty or (trials["objective"] <= INFEASIBLE).all():
        raise ConfigError("no feasible trial: every trial failed or exceeded tune.max_dead_ratio")
    best = results.get_best_result(metric="objective", mode="max", scope="all")
    summary = _finish(client, parent, config, best, trials, recommender, data, split, output_dir)
    client.set_terminated(parent)
    _print_table(trials, summary, uri)
    return summary


def _storage(config: ExperimentConfig) -> str:
    """Where Ray keeps trial state: a URI (s3://...) as given, a local path made absolute."""
    configured = config.tune.storage_path
    if configured and "://" in configured:
        return configured
    return str(Path(configured or monorec_home() / "ray_results").expanduser().resolve())


def _recommender_cache(config: ExperimentConfig) -> Path:
    return monorec_home() / "recommenders" / recommender_hash(config)


def _parent_run(client: MlflowClient, experiment: str, path: str, tags: dict, resume: bool) -> str:
    if resume:
        runs = client.search_runs([experiment], filter_string=f"tags.tune_path = '{path}'", max_results=1)
        if runs:
            return runs[0].info.run_id
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return client.create_run(experiment, run_name=f"tune-{name}", tags={**tags, "tune_path": path}).info.run_id


def _trial_table(results) -> pd.DataFrame:
    rows = []
    for result in results:
        if result.metrics and "objective" in result.metrics:
            rows.append({**result.config, **result.metrics, "trial": result.metrics.get("trial_id")})
    columns = ["objective", "monosemanticity", "fidelity", "dead_ratio", "epoch"]
    table = pd.DataFrame(rows)
    return table.sort_values("objective", ascending=False) if not table.empty else pd.DataFrame(columns=columns)


def _close_trial_runs(client: MlflowClient, trials: pd.DataFrame, epochs: int) -> None:
    """Mark each trial's run FINISHED if it trained every epoch, KILLED if ASHA stopped it early."""
    for run_id, epoch in zip(trials.get("mlflow_run_id", []), trials.get("epoch", [])):
        client.set_terminated(run_id, status="FINISHED" if epoch >= epochs else "KILLED")


def _finish(client, parent, config, best, trials, recommender, data, split, output_dir: Path) -> dict:
    """Evaluate the best trial's SAE, write and register its bundle, log plots and tables."""
    best_config = with_params(config, dict(best.config))
    sae = SparseAutoencoder(recommender.embedding_dim, best_config.sae)
    with best.checkpoint.as_directory() as folder:
        sae.load_state_dict(load_checkpoint(Path(folder) / CHECKPOINT)["sae"])
    sae.eval()
    metrics = evaluate_sae(sae, recommender, data, split, best_config, torch.device("cpu"))
    report = interpret_sae(sae, recommender, data, best_config.interpret)
    metrics.update(report.summary())
    metrics.update({k: best.metrics[k] for k in ("objective", "monosemanticity", "fidelity")})
    tracking.log_metrics(client, parent, metrics)
    output_dir.mkdir(parents=True, exist_ok=True)
    bundle = write_bundle(output_dir / BUNDLE, recommender, sae, report.neurons, data, split, to_dict(best_config), metrics)
    write_json(output_dir / "metrics.json", metrics)
    trials.to_csv(output_dir / "trials.csv", index=False)
    concepts = item_concepts(data)
    genres = concepts.family("genre")
    with torch.no_grad():
        codes = sae.encode(recommender.item_embeddings()).codes
    figures = output_dir / "plots"
    plots.pareto_front(trials[trials["objective"] > INFEASIBLE], figures / "pareto_front.png")
    plots.purity_heatmap(purity(codes, concepts.matrix[:, genres], 10), [concepts.names[c] for c in genres], figures / "purity_heatmap.png")
    labels = [label if isinstance(label, str) else "unlabelled" for label in report.neurons["label"]]
    plots.activation_histograms(codes.numpy(), labels, figures / "activation_histograms.png")
    for artifact in ("metrics.json", "trials.csv"):
        client.log_artifact(parent, str(output_dir / artifact))
    client.log_artifacts(parent, str(figures), "plots")
    client.log_artifacts(parent, str(bundle), BUNDLE)
    model_name = f"monorec-{config.data.dataset}-{config.model.kind}"
    version = tracking.register_model(client, model_name, parent, BUNDLE, config.tracking.register_alias)
    metrics["registered_model"] = {"name": model_name, "version": version, "alias": config.tracking.register_alias}
    metrics["best_config"] = dict(best.config)
    write_json(output_dir / "metrics.json", metrics)
    return metrics


def _print_table(trials: pd.DataFrame, summary: dict, uri: str) -> None:
    columns = [c for c in ("trial", "objective", "monosemanticity", "fidelity", "dead_ratio", *LOSS_WEIGHTS, "epoch") if c in trials]
    print(trials[columns].head(5).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    registered = summary["registered_model"]
    print(f"\nbest trial registered as {registered['name']} version {registered['version']} (alias @{registered['alias']})")
    print(f"compare the trials: mlflow ui --backend-store-uri {uri}")
