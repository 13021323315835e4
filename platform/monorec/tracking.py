"""MLflow tracking for every job: a thin layer over `MlflowClient`, no global state.

Where runs go: the config's `tracking.uri`, else `MLFLOW_TRACKING_URI`, else a local SQLite
store at `~/.monorec/mlflow/mlflow.db` (override the folder with `MONOREC_HOME`) whose
artifacts live beside it. The default is an absolute path on purpose: a job submitted with
`ray job submit --working-dir .` runs in a temporary copy that Ray deletes later.

Metric names are stable and grouped (`fidelity/rbo_20`, `mono/ms`, `mono/purity_10/Horror`,
`sparsity/dead_ratio`, `rec/ndcg_10_original`). MLflow forbids '@' in names, so `@K` is written `_K`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from monorec.paths import monorec_home

INVALID_NAME_CHARS = re.compile(r"[^\w./\- :]")
METRIC_GROUPS = {
    "rbo": "fidelity",
    "kendall_tau": "fidelity",
    "ms": "mono",
    "objective": "tune",
    "monosemanticity": "tune",
    "dead_ratio": "sparsity",
    "loss": "train",
    "emb": "train",
    "pred": "train",
    "l1": "train",
    "kl": "train",
}


def tracking_uri(configured: str | None = None) -> str:
    if configured or os.environ.get("MLFLOW_TRACKING_URI"):
        return configured or os.environ["MLFLOW_TRACKING_URI"]
    folder = monorec_home() / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


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


def metric_name(key: str) -> str:
    """`rbo@20` -> `fidelity/rbo_20`; keys that already carry a group keep it."""
    name = key.replace("@", "_")
    if "/" not in name:
        stem = re.sub(r"_\d+.*$", "", name)
        group = METRIC_GROUPS.get(stem, "rec" if stem in {"ndcg", "hr", "mrr", "mpr"} else None)
        name = f"{group}/{name}" if group else name
    return INVALID_NAME_CHARS.sub("", name)


def flat_metrics(metrics: Mapping) -> dict[str, float]:
    """Numeric leaves of a metrics.json, named for MLflow (purity becomes mono/purity_10/<concept>)."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            flat[metric_name(key)] = float(value)
        elif key == "purity":
            for concept, best in value.items():
                for k, purity in best.items():
                    if k != "neuron":
                        flat[INVALID_NAME_CHARS.sub("", f"mono/purity_{k.split('@')[1]}/{concept}")] = float(purity)
        elif key == "popularity_neuron":
            for k, v in value.items():
                flat[INVALID_NAME_CHARS.sub("", f"mono/popularity_neuron/{k.replace('@', '_')}")] = float(v)
    return flat


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


def log_metrics(client: MlflowClient, run_id: str, metrics: Mapping, step: int = 0) -> None:
    entries = [Metric(name, value, 0, step) for name, value in flat_metrics(metrics).items()]
    for start in range(0, len(entries), 500):
        client.log_batch(run_id, metrics=entries[start : start + 500])


def log_params(client: MlflowClient, run_id: str, params: Mapping) -> None:
    entries = [Param(name, value) for name, value in flat_params(params).items()]
    for start in range(0, len(entries), 100):
        client.log_batch(run_id, params=entries[start : start + 100])


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def register_model(client: MlflowClient, name: str, run_id: str, artifact_path: str, alias: str) -> str:
    """Register the run's `artifact_path` folder as a new version of `name` and point `alias` at it."""
    try:
        client.get_registered_model(name)
    except MlflowException:  # not registered yet
        client.create_registered_model(name)
    source = f"{client.get_run(run_id).info.artifact_uri}/{artifact_path}"
    version = client.create_model_version(name, source, run_id=run_id)
    client.set_registered_model_alias(name, alias, version.version)
    return version.version


def log_job_run(
    job: str, config: Mapping, metrics: Mapping, output_dir: Path, uri: str | None = None,
    run_name: str | None = None, parent_run_id: str | None = None, artifacts: Sequence[Path] = (),
) -> str:
    """Record one finished job (params, metrics, tags, its artifacts) as a run; returns the run id.

    With `parent_run_id` the run nests under that run in the MLflow UI; `artifacts` are extra
    files logged beside the output folder's own (config, metrics, neurons, report).
    """
    client = MlflowClient(tracking_uri(uri))
    data, model = config["data"], config["model"]
    experiment = experiment_id(client, f"monorec-{data['dataset']}-{model['kind']}")
    tags = {"job": job, "git_commit": git_commit(), "config_hash": str(metrics.get("config_hash", "")),
            "dataset_checksum": str(metrics.get("dataset_checksum", ""))}  # fmt: skip
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run_id = client.create_run(experiment, run_name=run_name or f"{job}-{output_dir.name}", tags=tags).info.run_id
    log_params(client, run_id, config)
    log_metrics(client, run_id, metrics)
    names = ("config.json", "metrics.json", "neurons.csv", "report.md")
    for path in [output_dir / name for name in names if (output_dir / name).is_file()] + list(artifacts):
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id)
    return run_id
