"""Bring your own data: interactions from parquet or any delimited text, plus an optional item table.

The item table's concept column holds either a list (parquet) or a `concepts_sep`-separated
string (text files), so a user's genres, tags or categories become SAE concepts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from monorec.config import GenericDataConfig
from monorec.data.cache import load_cached
from monorec.data.dataset import InteractionData, build_dataset, k_core
from monorec.data.reading import read_table
from monorec.errors import DataError


def load_generic(
    options: GenericDataConfig, min_users_per_item: int = 1, min_items_per_user: int = 1
) -> InteractionData:
    if not options.interactions_path:
        raise DataError("data.generic.interactions_path is required for dataset 'generic'")
    sources = [Path(options.interactions_path)] + ([Path(options.items_path)] if options.items_path else [])
    for path in sources:
        if not path.is_file():
            raise DataError(f"file not found: {path}")
    settings = {**vars(options), "min_users_per_item": min_users_per_item, "min_items_per_user": min_items_per_user}

    def parse(checksum: str) -> InteractionData:
        interactions = read_interactions(options)
        interactions = k_core(interactions, min_users_per_item, min_items_per_user)
        table = read_item_table(options) if options.items_path else None
        return build_dataset(Path(options.interactions_path).stem, interactions, table, checksum=checksum)

    return load_cached("generic", sources, settings, parse)


def read_interactions(options: GenericDataConfig) -> pd.DataFrame:
    columns = [options.user_col, options.item_col] + ([options.timestamp_col] if options.timestamp_col else [])
    frame = read_table(Path(options.interactions_path), columns, options.sep, options.header, options.encoding)
    result = pd.DataFrame({"user_id": frame[options.user_col], "item_id": frame[options.item_col]})
    if result.isna().any().any():
        row = int(result.isna().any(axis=1).to_numpy().nonzero()[0][0])
        raise DataError(f"{options.interactions_path}: empty user or item id on data row {row + 1}")
    if options.timestamp_col:
        result["timestamp"] = pd.to_numeric(frame[options.timestamp_col], errors="coerce")
    return result


def read_item_table(options: GenericDataConfig) -> pd.DataFrame:
    optional = [options.name_col, options.concepts_col, options.year_col]
    columns = [options.item_id_col] + [c for c in optional if c]
    frame = read_table(Path(options.items_path), columns, options.sep, options.header, options.encoding)
    table = pd.DataFrame(index=pd.Index(frame[options.item_id_col], name="item_id"))
    if options.name_col:
        table["name"] = frame[options.name_col].to_numpy()
    if options.concepts_col:
        table["concepts"] = [_concept_list(v, options.concepts_sep) for v in frame[options.concepts_col]]
    if options.year_col:
        table["year"] = pd.to_numeric(frame[options.year_col], errors="coerce").astype("Int64").to_numpy()
    return table[~table.index.duplicated()]


def _concept_list(value: object, sep: str) -> list[str]:
    if isinstance(value, str):
        return [c.strip() for c in value.split(sep) if c.strip()]
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [str(c) for c in value]
