"""Shared fixtures: an isolated parse cache, the real data folder, and small synthetic datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from monorec.config import SyntheticConfig
from monorec.data import make_synthetic, split_dataset

GROUPS = {  # tests that must share one xdist worker (`--dist loadgroup`), by the folders or files that hold them
    "ray": ("ray_local", "ray_cluster", "test_tune.py"),  # each starts a Ray on its fixed ports: one at a time
    "contract": ("test_api_contract.py",),  # its tests read one Schemathesis run, made once per worker
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = next((name for name, parts in GROUPS.items() if set(parts) & set(item.path.parts)), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True, scope="session")
def _threads_per_worker() -> None:
    """Each xdist worker gets its share of the cores for torch, so that two workers do not oversubscribe them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


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
