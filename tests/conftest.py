"""Shared fixtures: an isolated parse cache, the real data folder, and small synthetic datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monorec.config import SyntheticConfig
from monorec.data import make_synthetic, split_dataset


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Parsed datasets, runs and the MLflow store live in per-session folders, never in the user's home."""
    os.environ["MONOREC_CACHE_DIR"] = str(tmp_path_factory.mktemp("monorec-cache"))
    os.environ["MONOREC_HOME"] = str(tmp_path_factory.mktemp("monorec-home"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets: skipped when MONOREC_DATA_DIR is unset, an error when it points nowhere."""
    root = os.environ.get("MONOREC_DATA_DIR")
    if not root:
        pytest.skip("MONOREC_DATA_DIR is not set: real-data tests need ../shared/data")
    path = Path(root)
    assert (path / "ml-1m").is_dir() and (path / "hetrec2011-lastfm-2k").is_dir(), f"incomplete data dir {path}"
    return path


@pytest.fixture(scope="session")
def synthetic():
    """(data, truth, split) of the default planted dataset."""
    data, truth = make_synthetic(SyntheticConfig())
    return data, truth, split_dataset(data)


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray for every test that drives Ray from this process (Train and Serve): starting
    one costs seconds on two cores. It starts with Serve's throughput-mode settings, which Ray
    reads only as it starts, and a short drain of stopped replicas (Ray's 30 s lets load
    balancers on other nodes drop them; HAProxy on loopback reloads in well under a second).
    Jobs run as subprocesses start their own Ray: `ray.init()` joins only a `ray start` cluster."""
    ray = pytest.importorskip("ray")
    from serve.throughput import THROUGHPUT_ENV

    with pytest.MonkeyPatch.context() as env:
        for name, value in THROUGHPUT_ENV.items():
            env.setenv(name, value)
        env.setenv("RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", "5")
        ray.init(num_cpus=2, log_to_driver=False)
    yield
    ray.shutdown()
