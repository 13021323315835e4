"""MLflow tracking and the model registry: one `Tracker` per store, every call retried.

Where runs go: the config's `tracking.uri`, else `MLFLOW_TRACKING_URI`, else a local SQLite
store at `~/.monorec/mlflow/mlflow.db` (override the folder with `MONOREC_HOME`) whose
artifacts live beside it. The default is an absolute path on purpose: a job submitted with
`ray job submit --working-dir .` runs in a temporary copy that Ray deletes later.

Metric names come from the typed results (`monorec.results.mlflow_metrics`): `fidelity/rbo`,
`mono/concepts/Horror/purity/10`, `case_studies/filtering/before/effect`. This module is the only one
that imports MLflow (`tests/test_kinds.py` checks it): the jobs, the search and the Serve app
go through a `Tracker`, whose every call to the store is retried while SQLite is locked.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param
from mlflow.exceptions import MlflowException

from monorec.bundle import Bundle, read_bundle
from monorec.config import ExperimentConfig, config_hash, recommender_hash, run_hash
from monorec.data.sources import ARCHIVES
from monorec.errors import MonorecError
from monorec.paths import monorec_home
from monorec.typed import to_dict

T = TypeVar("T")
DIGEST_TAG = "manifest_sha256"
SQLITE_RETRIES = 8
# MLflow 3's UI opens an experiment on its GenAI "Traces" view unless told it is model training: by
# this tag (3.0-3.16), and from 3.17 by the UI's workflow setting, which a link can carry.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
ML_WORKFLOW = "workflowType=machine_learning"


def tracking_uri(configured: str | None = None) -> str:
    if configured or os.environ.get("MLFLOW_TRACKING_URI"):
        return configured or os.environ["MLFLOW_TRACKING_URI"]
    folder = monorec_home() / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def model_name(config: ExperimentConfig) -> str:
    """The experiment and registered-model name of a dataset x model: `monorec-ml1m-mf`."""
    return f"monorec-{config.data.dataset}-{config.model.kind}"


def experiment_path(experiment: str) -> str:
    """The UI's address of an experiment's runs table (after the server's host and port)."""
    return f"#/experiments/{experiment}?{ML_WORKFLOW}"


class Tracker:
    """Every MLflow call monorec makes, against one store, each retried while SQLite is locked.

    Trials, the driver and the reproduction write to one SQLite file at once; SQLite answers
    "database is locked" to all but one writer for a moment, which must not kill a trial.
    """

    def __init__(self, uri: str | None = None) -> None:
        self.uri = tracking_uri(uri)
        self._client = retrying(MlflowClient, self.uri)  # opening a local store can meet its lock too

    def _call(self, method: str, *args: object, **kwargs: object) -> object:
        return retrying(getattr(self._client, method), *args, **kwargs)

    # Experiments and runs

    def experiment(self, name: str) -> str:
        """The experiment's id, creating it (with artifacts beside a local store) if needed."""
        experiment = self._call("get_experiment_by_name", name)
        if experiment is not None:
            if experiment.tags.get("mlflow.experimentKind") is None:  # made by an older monorec
                for key, value in EXPERIMENT_TAGS.items():
                    self._call("set_experiment_tag", experiment.experiment_id, key, value)
            return experiment.experiment_id
        location = None
        if self.uri.startswith("sqlite:///"):
            location = (Path(self.uri.removeprefix("sqlite:///")).parent / "artifacts" / name).as_uri()
        try:
            return self._call("create_experiment", name, artifact_location=location, tags=EXPERIMENT_TAGS)
        except MlflowException:  # created concurrently by another trial, or a real failure
            created = self._call("get_experiment_by_name", name)
            if created is None:
                raise
            return created.experiment_id

    def create_run(self, experiment: str, name: str, tags: Mapping[str, str]) -> str:
        return self._call("create_run", experiment, run_name=name, tags=dict(tags)).info.run_id

    def nested_run(self, experiment: str, parent_run_id: str, name: str, tags: Mapping[str, str]) -> str:
        """The run called `name` under `parent_run_id`, created unless a resumed search already has it.

        A run the driver ended (its trial errored, then `--resume` retries it) is reopened: it
        is RUNNING while the trial trains again, and the driver ends it once more afterwards.
        """
        existing = self._call(
            "search_runs",
            [experiment],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}' and tags.trial = '{name}'",
        )
        if existing:
            run = existing[0].info
            if run.status != "RUNNING":
                self._call("update_run", run.run_id, status="RUNNING")
            return run.run_id
        return self.create_run(experiment, name, {"mlflow.parentRunId": parent_run_id, "trial": name, **tags})

    def open_children(self, experiment: str, parent_run_id: str) -> list[str]:
        """The ids of the runs under `parent_run_id` still RUNNING."""
        runs = self._call(
            "search_runs",
            [experiment],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}' and attributes.status = 'RUNNING'",
            max_results=10_000,
        )
        return [run.info.run_id for run in runs]

    def search_run(self, experiment: str, path: str, tags: Mapping[str, str], resume: bool) -> str:
        """The parent run of a search stored at `path`: the earlier one when resuming, else a new one."""
        if resume:
            runs = self._call("search_runs", [experiment], filter_string=f"tags.tune_path = '{path}'", max_results=1)
            if runs:
                return runs[0].info.run_id
        name = path.rstrip("/").rsplit("/", 1)[-1]
        return self.create_run(experiment, f"tune-{name}", {**tags, "tune_path": path})

    def terminate(self, run_id: str, status: str = "FINISHED") -> None:
        self._call("set_terminated", run_id, status=status)

    # What a run holds

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        entries = [Metric(name, value, 0, step) for name, value in metrics.items()]
        for start in range(0, len(entries), 500):
            self._call("log_batch", run_id, metrics=entries[start : start + 500])

    def log_series(self, run_id: str, series: Mapping[str, Sequence[float]]) -> None:
        """Metric histories (a curve's values, one step each)."""
        for name, values in series.items():
            entries = [Metric(name, float(value), 0, step) for step, value in enumerate(values)]
            self._call("log_batch", run_id, metrics=entries)

    def log_params(self, run_id: str, params: Mapping) -> None:
        entries = [Param(name, value) for name, value in flat_params(params).items()]
        for start in range(0, len(entries), 100):
            self._call("log_batch", run_id, params=entries[start : start + 100])

    def log_dataset(self, run_id: str, config: ExperimentConfig, checksum: str = "") -> None:
        self._call("log_inputs", run_id, datasets=[dataset_input(config, checksum)])

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self._call("log_artifact", run_id, str(path), artifact_path)

    def log_artifacts(self, run_id: str, folder: Path, artifact_path: str) -> None:
        self._call("log_artifacts", run_id, str(folder), artifact_path)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self._call("set_tag", run_id, key, value)

    # Whole job runs

    def log_job_run(
        self,
        job: str,
        config: ExperimentConfig,
        metrics: Mapping[str, float],
        output_dir: Path,
        run_name: str | None = None,
        parent_run_id: str | None = None,
        artifacts: Sequence[Path] = (),
        dataset_checksum: str = "",
        series: Mapping[str, Sequence[float]] | None = None,
    ) -> str:
        """Record one finished job (params, metrics, tags, its artifacts) as a run; returns the run id.

        With `parent_run_id` the run nests under that run in the MLflow UI; `artifacts` are extra
        files logged beside the output folder's own (config, metrics, neurons, report); `series` are
        metric histories (a curve's values, one step each).
        """
        experiment = self.experiment(model_name(config))
        tags = {"job": job, **run_tags(config, dataset_checksum), **source_tags(job)}
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        run_id = self.create_run(experiment, run_name or f"{job}-{output_dir.name}", tags)
        self.log_params(run_id, to_dict(config))
        self.log_dataset(run_id, config, dataset_checksum)
        self.log_metrics(run_id, metrics)
        self.log_series(run_id, series or {})
        names = ("config.json", "metrics.json", "neurons.csv", "report.md", "explorer.html")
        for path in [output_dir / name for name in names if (output_dir / name).is_file()] + list(artifacts):
            self.log_artifact(run_id, path)
        self.terminate(run_id)
        return run_id

    # The registry

    def register_bundle(self, name: str, run_id: str, artifact_path: str, alias: str, digest: str) -> str:
        """Register the run's `artifact_path` folder as a new version of `name` and point `alias` at it.

        The bundle's manifest digest is pinned on the version (tag `manifest_sha256`): a replica
        refuses a downloaded bundle that does not hash to it.
        """
        try:
            self._call("get_registered_model", name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            self._call("create_registered_model", name)
        source = f"{self._call('get_run', run_id).info.artifact_uri}/{artifact_path}"
        version = str(
            self._call("create_model_version", name, source, run_id=run_id, tags={DIGEST_TAG: digest}).version
        )
        self._call("set_registered_model_alias", name, alias, version)
        # The run page links what was registered from it: the bundle folder and the model version.
        self.set_tag(run_id, "bundle", source)
        self.set_tag(run_id, "registered_model", f"{name}/{version} (@{alias})")
        return version

    def resolve_registered(self, reference: str) -> tuple[str, str, str]:
        """`NAME@ALIAS` or `NAME/VERSION` -> (name, version, pinned manifest digest), read once."""
        name, _, ref = reference.replace("/", "@").partition("@")
        try:
            if ref.isdecimal() and ref.isascii():
                version = self._call("get_model_version", name, ref)
            else:
                version = self._call("get_model_version_by_alias", name, ref or "champion")
        except MlflowException as error:
            raise MonorecError(
                f"model {reference[:80]!r} not found in the MLflow registry at {self.uri}: {error.message}"
            ) from None
        digest = (version.tags or {}).get(DIGEST_TAG)
        if not digest:
            raise MonorecError(
                f"{name} version {version.version} has no pinned bundle digest ({DIGEST_TAG}): re-register it"
            )
        return name, str(version.version), digest

    def read_registered(self, reference: str, digest: str | None = None) -> tuple[Bundle, str, str]:
        """Download a registered bundle, load it (checked against its pinned digest), and delete the download."""
        name, version, pinned = self.resolve_registered(reference)
        if digest is not None and digest != pinned:
            raise MonorecError(f"{name} version {version} is pinned to another bundle than the one deployed")
        source = self._call("get_model_version", name, version).source
        with tempfile.TemporaryDirectory(prefix="monorec-bundle-") as folder:
            downloaded = retrying(download_artifacts, artifact_uri=source, dst_path=folder, tracking_uri=self.uri)
            return read_bundle(Path(downloaded), digest=pinned), name, version


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


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def source_tags(job: str) -> dict[str, str]:
    """The runs table's Source column: the job script and, where known, its commit."""
    tags = {"mlflow.source.name": f"jobs/{job}.py", "mlflow.source.type": "LOCAL"}
    if commit := git_commit():
        tags["mlflow.source.git.commit"] = commit
    return tags


def run_tags(config: ExperimentConfig, dataset_checksum: str = "") -> dict[str, str]:
    """What ties a run to its code, data and settings."""
    return {
        "git_commit": git_commit(),
        "config_hash": run_hash(config),
        "recommender_hash": recommender_hash(config),
        "dataset_checksum": dataset_checksum,
    }


def dataset_input(config: ExperimentConfig, checksum: str = "") -> DatasetInput:
    """The run's training data as an MLflow dataset input (the runs table's Dataset column).

    The digest is the parsed dataset's checksum where the job knows it, else a hash of the data
    settings (which name the files and filters, so equal digests mean equal data). A public
    dataset's source is the archive monorec downloads it from (`monorec.data.sources`).
    """
    data = config.data
    name = Path(data.generic.interactions_path).stem if data.dataset == "generic" else data.dataset
    archive = ARCHIVES.get(data.dataset)
    source = data.generic.interactions_path if data.dataset == "generic" else archive.url if archive else ""
    dataset = Dataset(
        name=name or data.dataset,
        digest=(checksum or config_hash(to_dict(data)))[:16],
        source_type="local" if archive is None else "http",
        source=json.dumps({"uri": source or f"monorec:{data.dataset}"}),
    )
    return DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])


def retrying(call: Callable[..., T], *args: object, **kwargs: object) -> T:
    """`call(*args, **kwargs)`, retried with backoff while a local SQLite store is locked."""
    for attempt in range(SQLITE_RETRIES):
        try:
            return call(*args, **kwargs)
        except Exception as error:  # MLflow wraps SQLAlchemy's OperationalError in more than one way
            if "database is locked" not in str(error) or attempt == SQLITE_RETRIES - 1:
                raise
            time.sleep(min(0.05 * 2**attempt, 2.0) * (1 + random.random()))
    raise AssertionError("unreachable")
