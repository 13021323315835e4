"""The Ray layer: Ray Train for data-parallel training, shared checkpoint payloads (needs `monorec[ray]`).

Nothing in the core imports this package; `monorec.pipeline` imports it only when a config
asks for Ray Train workers (`ray.num_workers > 0`).
"""

import os
from pathlib import Path

import ray

from monorec.errors import ConfigError

STORAGE_ENV = "MONOREC_STORAGE"


def init_ray() -> None:
    """Join the cluster of a submitted job (or RAY_ADDRESS), else start a local Ray.

    A local Ray's workers inherit this process's environment (MONOREC_DATA_DIR, MONOREC_HOME,
    MLFLOW_TRACKING_URI); on a cluster they see the `ray start` environment plus the job's
    `--runtime-env-json` env_vars, which is where such settings go (README, Scaling out).
    """
    if not ray.is_initialized():
        ray.init()


def storage_path(configured: str | None, local_default: Path) -> str:
    """Where Ray Train and Tune keep run state: a URI (s3://..., gs://...) as given, a local path absolute.

    The configured path, else MONOREC_STORAGE, else `local_default`. Ray refuses a local folder
    once trials or workers run on other nodes (they would each write their own), so a multi-node
    cluster with a local path stops here, with what to set instead.
    """
    chosen = configured or os.environ.get(STORAGE_ENV) or str(local_default)
    if "://" in chosen:
        return chosen
    nodes = [node for node in ray.nodes() if node.get("Alive")] if ray.is_initialized() else []
    if len(nodes) > 1:
        raise ConfigError(
            f"this Ray cluster has {len(nodes)} nodes but run state would go to the local folder {chosen}: "
            f"set {STORAGE_ENV}=s3://<bucket>/monorec (or ray.storage_path / tune.storage_path) to shared storage"
        )
    return str(Path(chosen).expanduser().resolve())
