"""The Ray layer: Ray Train for data-parallel training, shared checkpoint payloads (needs `monorec[ray]`).

Nothing in the core imports this package; `monorec.pipeline` imports it only when a config
asks for Ray Train workers (`ray.num_workers > 0`).
"""

import ray


def init_ray() -> None:
    """Join the cluster of a submitted job (or RAY_ADDRESS), else start a local Ray.

    A local Ray's workers inherit this process's environment (MONOREC_DATA_DIR, MONOREC_HOME,
    MLFLOW_TRACKING_URI); on a cluster they see the `ray start` environment plus the job's
    `--runtime-env-json` env_vars, which is where such settings go (README, Scaling out).
    """
    if not ray.is_initialized():
        ray.init()
