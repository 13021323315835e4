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
