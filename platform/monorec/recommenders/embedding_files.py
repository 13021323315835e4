"""`model.kind: embeddings`: user and item factor tables from files, scored by a dot product.

A parquet table has an `id` column, either one list column `embedding` or one numeric column
per factor, and optionally a `bias` column. A .npy table is a matrix whose ids come from a
separate file (`user_ids` / `item_ids`), with item biases optionally in `item_biases`.
Every file is read without pickle; rows are matched to the dataset by id (`alignment`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monorec.config import EmbeddingFiles, ExperimentConfig
from monorec.data.dataset import InteractionData
from monorec.data.split import Split
from monorec.errors import DataError
from monorec.kinds.embeddings import KIND
from monorec.recommenders.alignment import load_npy, read_ids, row_order
from monorec.recommenders.factors import FactorModel
from monorec.recommenders.fold_in import NEWTON
from monorec.recommenders.registry import KindSpec
from monorec.training import TrainResult


def fit_embedding_files(
    config: ExperimentConfig, data: InteractionData, split: Split
) -> tuple[FactorModel, TrainResult]:
    """`KindSpec.fit_external`: the tables `model.embeddings` names, loaded as they are (nothing trains)."""
    return load_embedding_files(config.model.settings, data), TrainResult.untrained()


def load_embedding_files(spec: EmbeddingFiles, data: InteractionData) -> FactorModel:
    """The frozen dot-product model over the files' tables, rows in the dataset's index order."""
    user_ids, users, user_bias = read_table(spec.users, spec.user_ids, None)
    item_ids, items, item_bias = read_table(spec.items, spec.item_ids, spec.item_biases)
    if users.shape[1] != items.shape[1]:
        raise DataError(f"user embeddings have {users.shape[1]} factors but item embeddings {items.shape[1]}")
    user_rows = row_order(user_ids, data.user_ids, "user", spec.users)
    item_rows = row_order(item_ids, data.item_ids, "item", spec.items)
    return FactorModel.from_factors(
        KIND.name,
        users[user_rows],
        items[item_rows],
        item_bias=item_bias[item_rows] if item_bias is not None else None,
        user_bias=user_bias[user_rows] if user_bias is not None else None,
    )


def read_table(
    path: str, ids_path: str | None, biases_path: str | None
) -> tuple[pd.Index, np.ndarray, np.ndarray | None]:
    """(ids, factors (n, d) float32, biases or None) of one side's table."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"embeddings file not found: {path}")
    if file.suffix == ".parquet":
        return _parquet_table(file)
    if file.suffix != ".npy":
        raise DataError(f"{path}: embeddings must be .parquet or .npy")
    if ids_path is None:
        raise DataError(f"{path}: a .npy table needs its ids (model.embeddings.user_ids / item_ids)")
    factors = _matrix(load_npy(file), path)
    ids = read_ids(ids_path)
    if len(ids) != len(factors):
        raise DataError(f"{ids_path} has {len(ids)} ids but {path} has {len(factors)} rows")
    if biases_path is None:
        return ids, factors, None
    if not Path(biases_path).is_file():
        raise DataError(f"biases file not found: {biases_path}")
    biases = _matrix(load_npy(Path(biases_path)).reshape(-1, 1), biases_path)[:, 0]
    if len(biases) != len(factors):
        raise DataError(f"{biases_path}: expected {len(factors)} biases, got {len(biases)}")
    return ids, factors, biases


def _parquet_table(file: Path) -> tuple[pd.Index, np.ndarray, np.ndarray | None]:
    frame = pd.read_parquet(file)
    if "id" not in frame:
        raise DataError(f"{file}: needs an `id` column (found {', '.join(map(str, frame.columns))})")
    if "embedding" in frame:
        if frame["embedding"].map(len).nunique() > 1:
            raise DataError(f"{file}: the `embedding` lists have different lengths")
        factors = np.stack(frame["embedding"].to_numpy())
    else:
        factors = frame.drop(columns=[c for c in ("id", "bias") if c in frame]).to_numpy()
    biases = _matrix(frame[["bias"]].to_numpy(), f"{file} (bias)")[:, 0] if "bias" in frame else None
    return pd.Index(frame["id"]), _matrix(factors, str(file)), biases


def _matrix(values: np.ndarray, source: str) -> np.ndarray:
    if values.ndim != 2 or not np.issubdtype(values.dtype, np.number):
        raise DataError(
            f"{source}: expected a numeric (rows, factors) table, got shape {values.shape} of {values.dtype}"
        )
    if not np.isfinite(values).all():
        raise DataError(f"{source}: embeddings contain NaN or infinite values")
    return values.astype(np.float32)


SPEC = KindSpec(KIND, fit_external=fit_embedding_files, restore=FactorModel.from_architecture, fold_in=lambda _: NEWTON)
