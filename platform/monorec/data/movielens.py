"""MovieLens-1M and MovieLens-100K: every rating is a positive; concepts are the genres; the title carries the year.

Timestamps are optional: our copy of ML-1M's `ratings.dat` has an empty timestamp (a line ending
in `::`) on about a third of its rows, which are read as NaN and never filled; the original file,
with every timestamp, loads the same way. ML-100K has every timestamp, so its rows are a sequence
per user (`data.sequences`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from monorec.data.cache import load_cached
from monorec.data.dataset import InteractionData, build_dataset, k_core
from monorec.data.reading import read_delimited

ENCODING = "iso-8859-1"
YEAR_AT_END = r"\((\d{4})\)\s*$"
ML100K_GENRES = (  # u.item's 19 genre flags, in the file's column order (u.genre)
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


def load_ml1m(folder: Path, min_users_per_item: int = 1, min_items_per_user: int = 1) -> InteractionData:
    files = [folder / "ratings.dat", folder / "movies.dat", folder / "users.dat"]
    options = {"min_users_per_item": min_users_per_item, "min_items_per_user": min_items_per_user}

    def parse(checksum: str) -> InteractionData:
        ratings = read_ratings(files[0])
        ratings = k_core(ratings, min_users_per_item, min_items_per_user)
        return build_dataset("ml1m", ratings, read_movies(files[1]), read_users(files[2]), checksum)

    return load_cached("ml1m", files, options, parse)


def load_ml100k(folder: Path, min_users_per_item: int = 1, min_items_per_user: int = 1) -> InteractionData:
    """MovieLens-100K from `u.data` (user, item, rating, timestamp; tab-separated) and `u.item`."""
    files = [folder / "u.data", folder / "u.item"]
    options = {"min_users_per_item": min_users_per_item, "min_items_per_user": min_items_per_user}

    def parse(checksum: str) -> InteractionData:
        ratings = read_delimited(
            files[0], ["user_id", "item_id", "rating", "timestamp"], sep="\t", integer=["user_id", "item_id", "rating"]
        )[["user_id", "item_id", "timestamp"]]
        ratings = k_core(ratings, min_users_per_item, min_items_per_user)
        return build_dataset("ml100k", ratings, read_ml100k_items(files[1]), checksum=checksum)

    return load_cached("ml100k", files, options, parse)


def read_ml100k_items(path: Path) -> pd.DataFrame:
    """Item table indexed by movie id: name (title), concepts (the genres flagged 1) and year (from the title)."""
    columns = ["item_id", "title", "release", "video_release", "url", *ML100K_GENRES]
    movies = read_delimited(path, columns, sep="|", encoding=ENCODING, integer=["item_id", *ML100K_GENRES])
    flags = movies[list(ML100K_GENRES)].to_numpy() == 1
    years = movies["title"].str.extract(YEAR_AT_END, expand=False)
    return pd.DataFrame(
        {
            "name": movies["title"].to_numpy(),
            "concepts": [[g for g, on in zip(ML100K_GENRES, row) if on] for row in flags],
            "year": pd.to_numeric(years).astype("Int64").to_numpy(),
        },
        index=pd.Index(movies["item_id"], name="item_id"),
    )


def read_ratings(path: Path) -> pd.DataFrame:
    frame = read_delimited(
        path,
        ["user_id", "item_id", "rating", "timestamp"],
        sep="::",
        encoding=ENCODING,
        integer=["user_id", "item_id", "rating"],
        optional_numeric=["timestamp"],
    )
    return frame[["user_id", "item_id", "timestamp"]]


def read_movies(path: Path) -> pd.DataFrame:
    """Item table indexed by MovieID: name (title), concepts (genres) and year (from the title)."""
    movies = read_delimited(path, ["item_id", "title", "genres"], sep="::", encoding=ENCODING, integer=["item_id"])
    years = movies["title"].str.extract(YEAR_AT_END, expand=False)
    return pd.DataFrame(
        {
            "name": movies["title"].to_numpy(),
            "concepts": [sorted(g.split("|")) if g else [] for g in movies["genres"]],
            "year": pd.to_numeric(years).astype("Int64").to_numpy(),
        },
        index=pd.Index(movies["item_id"], name="item_id"),
    )


def read_users(path: Path) -> pd.DataFrame:
    users = read_delimited(
        path,
        ["user_id", "gender", "age", "occupation", "zip"],
        sep="::",
        encoding=ENCODING,
        integer=["user_id", "age", "occupation"],
    )
    return users.set_index("user_id")
