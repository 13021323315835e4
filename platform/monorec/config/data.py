"""The `data` section: which dataset, where its files are, how it is filtered and split."""

from __future__ import annotations

import dataclasses
from typing import Literal

from monorec.config.checks import at_least


@dataclasses.dataclass
class LastfmConfig:
    """How Last.FM artists get concepts from user tags (rule documented in `data.lastfm`)."""

    vocabulary_size: int = 50
    tags_per_artist: int = 3

    def __post_init__(self) -> None:
        at_least("data.lastfm.vocabulary_size", self.vocabulary_size, 1)
        at_least("data.lastfm.tags_per_artist", self.tags_per_artist, 1)


@dataclasses.dataclass
class GenericDataConfig:
    """Bring-your-own data: an interaction file and an optional item table.

    Parquet, or delimited text: `sep` is the delimiter of both files (any string, `::` and `|`
    included; default by extension: .csv comma, .tsv tab); with `header: false` the files have no
    header row and the `*_col` settings name columns by position ("0", "1", ...).
    """

    interactions_path: str = ""
    sep: str | None = None
    header: bool = True
    encoding: str = "utf-8"  # of text files; e.g. latin-1 for MovieLens' own .dat files
    user_col: str = "user_id"
    item_col: str = "item_id"
    timestamp_col: str | None = None
    items_path: str | None = None
    item_id_col: str = "item_id"
    name_col: str | None = None
    concepts_col: str | None = None
    concepts_sep: str = "|"
    year_col: str | None = None


@dataclasses.dataclass
class SyntheticConfig:
    """Planted structure for tests and quick runs (see `data.synthetic`)."""

    n_users: int = 600
    n_items: int = 300
    n_genres: int = 6
    genres_per_user: int = 2
    interactions_per_user: int = 30
    genre_affinity: float = 12.0
    popularity_exponent: float = 1.0
    seed: int = 0


SplitRule = Literal["random", "leave_last_out"]


@dataclasses.dataclass
class DataConfig:
    """Which dataset, where its files are, how it is filtered and split.

    split: `random` holds out `holdout` random positives per user (`data.split`);
        `leave_last_out` orders each user's timestamped rows in time and holds out the last as
        test and the one before it as validation (`data.sequences`, what a sequential kind needs;
        `holdout` and `min_train_positives` then read as 1 and the shortest training sequence).
    """

    dataset: Literal["ml1m", "ml100k", "lastfm", "generic", "synthetic"] = "synthetic"
    split: SplitRule = "random"
    data_dir: str | None = None
    min_users_per_item: int = 1
    min_items_per_user: int = 1
    holdout: int = 5
    test_negatives: int = 5
    min_train_positives: int = 5
    split_seed: int = 0
    lastfm: LastfmConfig = dataclasses.field(default_factory=LastfmConfig)
    generic: GenericDataConfig = dataclasses.field(default_factory=GenericDataConfig)
    synthetic: SyntheticConfig = dataclasses.field(default_factory=SyntheticConfig)

    def __post_init__(self) -> None:
        for name in ("min_users_per_item", "min_items_per_user", "holdout", "test_negatives", "min_train_positives"):
            at_least(f"data.{name}", getattr(self, name), 0)
