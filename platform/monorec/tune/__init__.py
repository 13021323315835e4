"""The SAE search with Ray Tune (needs `monorec[ray,mlflow]`): every trial a nested MLflow run.

`run_tune` loads and splits the data once, trains (or reuses) the recommender, runs the search
of `monorec.tune.search` (each trial gets the split through Ray's object store, never from disk),
hands the best trial to `monorec.tune.finish`, which finishes, bundles and registers it, and
measures the trials of the validation Pareto front on the report users (`monorec.tune.front`).
Trials are compared by their last report, the state of the checkpoint each SAE is restored from.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from ray import tune
from ray.tune import ResultGrid
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from monorec.config import ExperimentConfig
from monorec.data import load_split
from monorec.distributed import init_ray, storage_path
from monorec.distributed.payload import make_payload
from monorec.errors import ConfigError, SearchError
from monorec.paths import monorec_home
from monorec.pipeline import trained_recommender
from monorec.results import TuneRun
from monorec.tracking import Tracker, experiment_path, model_name, run_tags, source_tags
from monorec.tune.finish import finish_search
from monorec.tune.front import measure_front, write_front
from monorec.tune.search import (
    INFEASIBLE,
    check_searchable,
    genre_matrix,
    recommender_cache,
    run_trial,
    search_space,
)
from monorec.typed import to_dict

log = logging.getLogger(__name__)
TABLE_COLUMNS = ("trial", "objective", "monosemanticity", "fidelity", "dead_ratio", "epoch")


def run_tune(config: ExperimentConfig, output_dir: Path, resume: bool = False) -> TuneRun:
    """Search, then evaluate, bundle and register the best trial."""
    check_searchable(config)
    tracker = Tracker(config.tracking.uri)
    log.info("MLflow tracking store: %s", tracker.uri)
    experiment = tracker.experiment(model_name(config))
    data, split = load_split(config.data)
    recommender = trained_recommender(config, recommender_cache(config), (data, split))
    tags = {**run_tags(config, data.checksum), **source_tags("tune_sae")}  # the runs table's Source column
    init_ray()
    storage = _storage(config)
    path = f"{storage}/{config.tune.name}"
    parent = tracker.search_run(experiment, path, tags, resume)
    tracker.log_params(parent, to_dict(config))

    extra = {"tracking_uri": tracker.uri, "experiment_id": experiment, "parent_run_id": parent, "tags": tags}
    # Put once into Ray's object store by with_parameters: trials never read the dataset files.
    extra |= {"split": split, "genres": genre_matrix(data)}
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, payload=make_payload(config, recommender, **extra)),
        {"cpu": config.tune.cpus_per_trial, "gpu": config.tune.gpus_per_trial},
    )
    results = _tuner(config, trainable, storage, path, resume).fit()
    trials = _trial_table(results)
    close_trial_runs(tracker, experiment, parent, results, config.sae_train.epochs)
    if trials.empty or (trials["objective"] <= INFEASIBLE).all():
        raise SearchError("no feasible trial: every trial failed or exceeded tune.max_dead_ratio")
    best = results.get_best_result(metric="objective", mode="max", scope="last")
    run = finish_search(tracker, parent, config, best, trials, recommender, data, split, output_dir)
    write_front(tracker, parent, measure_front(config, results, recommender, data, split), output_dir)
    tracker.terminate(parent)
    _print_table(trials, run, tracker.uri, experiment)
    return run


def _tuner(config: ExperimentConfig, trainable: object, storage: str, path: str, resume: bool) -> tune.Tuner:
    if resume:
        if not tune.Tuner.can_restore(path):
            raise ConfigError(f"nothing to resume at {path}: run without --resume first")
        return tune.Tuner.restore(path, trainable, resume_errored=True)
    return tune.Tuner(
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
        run_config=tune.RunConfig(
            name=config.tune.name,
            storage_path=storage,
            verbose=1,
            failure_config=tune.FailureConfig(max_failures=config.tune.max_failures),
        ),
    )


def _storage(config: ExperimentConfig) -> str:
    """Where Ray keeps trial state (`monorec.distributed.storage_path`)."""
    return storage_path(config.tune.storage_path, monorec_home() / "ray_results")


def _trial_table(results: ResultGrid) -> pd.DataFrame:
    rows = [
        {**result.config, **result.metrics, "trial": result.metrics.get("trial_id")}
        for result in results
        if result.metrics and "objective" in result.metrics
    ]
    table = pd.DataFrame(rows)
    return table.sort_values("objective", ascending=False) if not table.empty else pd.DataFrame(columns=TABLE_COLUMNS)


def close_trial_runs(tracker: Tracker, experiment: str, parent: str, results: ResultGrid, epochs: int) -> None:
    """End every trial run the search left open, once: FINISHED if it trained every epoch, KILLED if
    ASHA stopped it early, FAILED if it errored (after its retries) or never reported.

    Trials never end their own runs (ASHA may stop one at any report), so a trial that died before
    its first report has no run id in any result; it is found among the parent's open children.
    """
    reported = [result for result in results if result.metrics and "mlflow_run_id" in result.metrics]
    by_run = {result.metrics["mlflow_run_id"]: result for result in reported}
    for run_id in tracker.open_children(experiment, parent):
        result = by_run.get(run_id)
        if result is None or result.error is not None:
            status = "FAILED"
        else:
            status = "FINISHED" if result.metrics["epoch"] >= epochs else "KILLED"
        tracker.terminate(run_id, status=status)


def _print_table(trials: pd.DataFrame, run: TuneRun, uri: str, experiment: str) -> None:
    columns = [c for c in (*TABLE_COLUMNS[:5], *run.params, "epoch") if c in trials]
    print(trials[list(dict.fromkeys(columns))].head(5).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    registered = run.registered
    if registered is not None:
        print(f"\nbest trial registered as {registered.name} version {registered.version} (alias @{registered.alias})")
    print(f"compare the trials: mlflow ui --backend-store-uri {uri}")
    print(f"then open http://127.0.0.1:5000/{experiment_path(experiment)}")
