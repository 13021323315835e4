"""The end of a search: the best trial's SAE finished like any other, then bundled and registered.

The best trial's checkpoint goes through `monorec.pipeline.finish_sae`, the same ending as
`jobs/train_sae.py`, so its report, metrics and neuron labels are exactly what a single run
would produce; then the bundle is written, plots and tables are logged to the search's parent
run, and the bundle is registered as `monorec-<dataset>-<model>@<alias>`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from ray.tune import Result

from monorec import plots
from monorec.bundle import BundleSource, manifest_digest, write_bundle
from monorec.config import ExperimentConfig, recommender_hash
from monorec.data import InteractionData, Split
from monorec.devices import resolve_device
from monorec.interpret import item_concepts
from monorec.interpret.neurons import purity
from monorec.pipeline import finish_sae
from monorec.recommenders import TwoTowerRecommender
from monorec.results import RegisteredModel, TrainingSummary, TuneRun, mlflow_metrics, write_result
from monorec.sae import SparseAutoencoder, build_sae
from monorec.sae.scan import TopActivations
from monorec.sae.training import CHECKPOINT
from monorec.storage import load_checkpoint
from monorec.tracking import Tracker, model_name
from monorec.tune.search import INFEASIBLE, PURITY_K, non_dominated, recommender_cache, with_params

BUNDLE = "bundle"


def finish_search(
    tracker: Tracker,
    parent: str,
    config: ExperimentConfig,
    best: Result,
    trials: pd.DataFrame,
    recommender: TwoTowerRecommender,
    data: InteractionData,
    split: Split,
    output_dir: Path,
) -> TuneRun:
    """Evaluate the best trial's SAE, write and register its bundle, log plots and tables."""
    best_config = with_params(config, dict(best.config))
    sae = checkpoint_sae(best, best_config, recommender)
    epochs = int(best.metrics["epoch"])
    device = str(resolve_device(best_config.sae_train.device))  # where finish_sae evaluates it, on this driver
    training = TrainingSummary(epochs, float("nan"), float("nan"), float(best.metrics["loss"]), device)
    cache = recommender_cache(config)
    reference = {"path": str(cache), "config_hash": recommender_hash(config)}
    sae_run = finish_sae(sae, recommender, data, split, best_config, training, output_dir, reference, cache)
    neurons = pd.read_csv(output_dir / "neurons.csv")
    source = BundleSource(recommender, sae, neurons, data, split, best_config, sae_run)
    bundle = write_bundle(output_dir / BUNDLE, source)
    trials.to_csv(output_dir / "trials.csv", index=False)
    figures = _plots(sae, recommender, data, neurons, trials, output_dir / "plots")
    name = model_name(config)
    tracker.log_metrics(parent, mlflow_metrics(sae_run))
    tracker.log_dataset(parent, config, data.checksum)
    for artifact in ("metrics.json", "trials.csv", "report.md", "neurons.csv"):
        tracker.log_artifact(parent, output_dir / artifact)
    tracker.log_artifacts(parent, figures, "plots")
    tracker.log_artifacts(parent, bundle, BUNDLE)
    alias, digest = config.tracking.register_alias, manifest_digest(bundle)
    version = tracker.register_bundle(name, parent, BUNDLE, alias, digest)
    run = TuneRun(
        objective=float(best.metrics["objective"]),
        monosemanticity=float(best.metrics["monosemanticity"]),
        fidelity=float(best.metrics["fidelity"]),
        params=dict(best.config),
        sae=sae_run,
        registered=RegisteredModel(name, version, config.tracking.register_alias),
    )
    tracker.log_metrics(parent, mlflow_metrics({"objective": run.objective}, "tune/"))
    write_result(run, output_dir / "metrics.json")
    return run


def checkpoint_sae(trial: Result, config: ExperimentConfig, recommender: TwoTowerRecommender) -> SparseAutoencoder:
    """The SAE of a trial's last checkpoint, the state its last report scored (`config`: the trial's)."""
    sae = build_sae(config, recommender.embedding_dim)
    with trial.checkpoint.as_directory() as folder:
        sae.load_state_dict(load_checkpoint(Path(folder) / CHECKPOINT)["sae"])
    return sae.eval()


def _plots(
    sae: SparseAutoencoder,
    recommender: TwoTowerRecommender,
    data: InteractionData,
    neurons: pd.DataFrame,
    trials: pd.DataFrame,
    figures: Path,
) -> Path:
    """The Pareto front of the trials, the best SAE's purity heatmap and activation histograms."""
    concepts = item_concepts(data)
    genres = concepts.family("genre")
    with torch.no_grad():
        codes = sae.encode(recommender.item_embeddings()).codes.cpu()  # finish_sae may have left them on a GPU
    labels = [label if isinstance(label, str) else "unlabelled" for label in neurons["label"]]
    feasible = trials[trials["objective"] > INFEASIBLE]
    front = non_dominated(feasible[["fidelity", "monosemanticity"]].to_numpy())
    plots.pareto_front(feasible, front, figures / "pareto_front.png")
    heatmap = purity(TopActivations.of(codes, PURITY_K), concepts.matrix[:, genres], PURITY_K)
    plots.purity_heatmap(heatmap, [concepts.names[c] for c in genres], figures / "purity_heatmap.png", PURITY_K)
    plots.activation_histograms(codes.numpy(), labels, figures / "activation_histograms.png")
    return figures
