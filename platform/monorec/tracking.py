"""MLflow tracking and the model registry: a thin layer over `MlflowClient`, no global state.

Where runs go: the config's `tracking.uri`, else `MLFLOW_TRACKING_URI`, else a local SQLite
store at `~/.monorec/mlflow/mlflow.db` (override the folder with `MONOREC_HOME`) whose
artifacts live beside it. The default is an absolute path on purpose: a job submitted with
`ray job submit --working-dir .` runs in a temporary copy that Ray deletes later.

Metric names come from the typed results (`monorec.results.mlflow_metrics`): `fidelity/rbo`,
`mono/concepts/Horror/purity/10`, `steering/filtering/share_after`. This module is the only one
that talks to MLflow: the jobs, the search and the Serve app go through it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from monorec.config import ExperimentConfig, recommender_hash, run_hash
from monorec.errors import MonorecError
from monorec.paths import monorec_home
from monorec.typed import to_dict


def tracking_uri(configured: str | None = None) -> str:
    if configured or os.environ.get("MLFLOW_TRACKING_URI"):
        return configured or os.environ["MLFLOW_TRACKING_URI"]
    folder = monorec_home() / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def client(uri: str | None = None) -> MlflowClient:
    """A client for `uri` (default: as `tracking_uri`)."""
    return MlflowClient(tracking_uri(uri))


def model_name(config: ExperimentConfig) -> str:
    """The experiment and registered-model name of a dataset x model: `monorec-ml1m-mf`."""
    return f"monorec-{config.data.dataset}-{config.model.kind}"


def experiment_id(client: MlflowClient, name: str) -> str:
    """The experiment's id, creating it (with artifacts beside a local store) if needed."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if client.tracking_uri.startswith("sqlite:///"):
        location = (Path(client.tracking_uri.removeprefix("sqlite:///")).parent / "artifacts" / name).as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:  # created concurrently by another trial
        return client.get_experiment_by_name(name).experiment_id


def flat_params(values: Mapping, prefix: str = "") -> dict[str, str]:
    """Nested config -> `section.key` params (MLflow params are strings)."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_params(value, f"{name}."))
        else:
            flat[name] = str(value)[:6000]
    return flat


def log_metrics(client: MlflowClient, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
    entries = [Metric(name, value, 0, step) for name, value in metrics.items()]
    for start in range(0, len(entries), 500):
        client.log_batch(run_id, metrics=entries[start : start + 500])


def log_params(client: MlflowClient, run_id: str, params: Mapping) -> None:
    entries = [Param(name, value) for name, value in flat_params(params).items()]
    for start in range(0, len(entries), 100):
        client.log_batch(run_id, params=entries[start : start + 100])


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def run_tags(config: ExperimentConfig, dataset_checksum: str = "") -> dict[str, str]:
    """What ties a run to its code, data and settings."""
    return {
        "git_commit": git_commit(),
        "config_hash": run_hash(config),
        "recommender_hash": recommender_hash(config),
        "dataset_checksum": dataset_checksum,
    }


def log_job_run(
    job: str,
    config: ExperimentConfig,
    metrics: Mapping[str, float],
    output_dir: Path,
    uri: str | None = None,
    run_name: str | None = None,
    parent_run_id: str | None = None,
    artifacts: Sequence[Path] = (),
    dataset_checksum: str = "",
) -> str:
    """Record one finished job (params, metrics, tags, its artifacts) as a run; returns the run id.

    With `parent_run_id` the run nests under that run in the MLflow UI; `artifacts` are extra
    files logged beside the output folder's own (config, metrics, neurons, report).
    """
    mlflow = client(uri)
    experiment = experiment_id(mlflow, model_name(config))
    tags = {"job": job, **run_tags(config, dataset_checksum)}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run_id = mlflow.create_run(experiment, run_name=run_name or f"{job}-{output_dir.name}", tags=tags).info.run_id
    log_params(mlflow, run_id, to_dict(config))
    log_metrics(mlflow, run_id, metrics)
    names = ("config.json", "metrics.json", "neurons.csv", "report.md")
    for path in [output_dir / name for name in names if (output_dir / name).is_file()] + list(artifacts):
        mlflow.log_artifact(run_id, str(path))
    mlflow.set_terminated(run_id)
    return run_id


def nested_run(client: MlflowClient, experiment: str, parent_run_id: str, name: str, tags: Mapping[str, str]) -> str:
    """The run called `name` under `parent_run_id`, created unless a resumed search already has it."""
    existing = client.search_runs(
        [experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}' and tags.trial = '{name}'"
    )
    if existing:
        return existing[0].info.run_id
    all_tags = {"mlflow.parentRunId": parent_run_id, "trial": name, **tags}
    return client.create_run(experiment, run_name=name, tags=all_tags).info.run_id


def search_run(client: MlflowClient, experiment: str, path: str, tags: Mapping[str, str], resume: bool) -> str:
    """The parent run of a search stored at `path`: the earlier one when resuming, else a new one."""
    if resume:
        runs = client.search_runs([experiment], filter_string=f"tags.tune_path = '{path}'", max_results=1)
        if runs:
            return runs[0].info.run_id
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return client.create_run(experiment, run_name=f"tune-{name}", tags={**tags, "tune_path": path}).info.run_id


def register_bundle(client: MlflowClient, name: str, run_id: str, artifact_path: str, alias: str) -> str:
    """Register the run's `artifact_path` folder as a new version of `name` and point `alias` at it."""
    try:
        client.get_registered_model(name)
    except MlflowException:  # not registered yet
        client.create_registered_model(name)
    source = f"{client.get_run(run_id).info.artifact_uri}/{artifact_path}"
    version = client.create_model_version(name, source, run_id=run_id)
    client.set_registered_model_alias(name, alias, version.version)
    return str(version.version)


def download_registered(reference: str, uri: str | None = None) -> tuple[Path, str, str]:
    """Download the bundle of `NAME@ALIAS` or `NAME/VERSION`; returns (folder, name, version)."""
    uri = tracking_uri(uri)
    registry = MlflowClient(uri)
    name, _, ref = reference.replace("/", "@").partition("@")
    try:
        if ref.isdecimal():
            version = registry.get_model_version(name, ref)
        else:
            version = registry.get_model_version_by_alias(name, ref or "champion")
    except MlflowException as error:
        raise MonorecError(f"model {reference!r} not found in the MLflow registry at {uri}: {error.message}") from None
    folder = download_artifacts(artifact_uri=version.source, dst_path=tempfile.mkdtemp(), tracking_uri=uri)
    return Path(folder), name, str(version.version)
