"""Loaders on the real files under MONOREC_DATA_DIR give the published counts."""

import shutil

import numpy as np
import pytest

from monorec.config import DataConfig
from monorec.data import load_dataset
from monorec.data.lastfm import DECADE, STOP_TAGS
from monorec.data.movielens import load_ml1m

pytestmark = pytest.mark.real_data


def test_ml1m_counts_and_optional_timestamps(data_dir):
    data = load_dataset(DataConfig(dataset="ml1m", data_dir=str(data_dir)))
    assert (data.n_interactions, data.n_users, data.n_items) == (1_000_209, 6_040, 3_706)
    # Our copy has an empty timestamp on 318,218 rows: read as NaN, never filled.
    assert int(data.interactions["timestamp"].isna().sum()) == 318_218
    assert data.concept_names == sorted(
        [
            "Action",
            "Adventure",
            "Animation",
            "Children's",
            "Comedy",
            "Crime",
            "Documentary",
            "Drama",
            "Fantasy",
            "Film-Noir",
            "Horror",
            "Musical",
            "Mystery",
            "Romance",
            "Sci-Fi",
            "Thriller",
            "War",
            "Western",
        ]
    )
    toy_story = data.items.iloc[data.item_ids.get_loc(1)]
    assert toy_story["name"] == "Toy Story (1995)" and toy_story["year"] == 1995 and toy_story["decade"] == 1990
    assert toy_story["concepts"] == ["Animation", "Children's", "Comedy"]
    assert data.items["popularity"].sum() == data.n_interactions
    top = data.items["popularity"].idxmax()
    assert data.items.loc[top, "popularity_percentile"] == 0.0
    assert len(data.users) == 6_040 and data.users["gender"].isin(["F", "M"]).all()
    # Titles are ISO-8859-1: accented names survive.
    assert data.items["name"].str.contains("é").any()


def test_ml1m_loads_a_file_with_every_timestamp(data_dir, tmp_path):
    """The original ratings.dat has all timestamps; emulate it with the rows that have one."""
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    for name in ("movies.dat", "users.dat"):
        shutil.copy(data_dir / "ml-1m" / name, folder / name)
    lines = (data_dir / "ml-1m" / "ratings.dat").read_text().splitlines()
    complete = [line for line in lines[:20_000] if not line.endswith("::")]
    (folder / "ratings.dat").write_text("\n".join(complete) + "\n")
    data = load_ml1m(folder)
    assert data.n_interactions == len(complete)
    assert not data.interactions["timestamp"].isna().any()
    assert data.interactions["timestamp"].min() > 9e8


def test_lastfm_counts_and_genre_concepts(data_dir):
    data = load_dataset(DataConfig(dataset="lastfm", data_dir=str(data_dir)))
    assert (data.n_interactions, data.n_users, data.n_items) == (92_834, 1_892, 17_632)
    names = data.concept_names
    assert len(names) == 50 and {"Rock", "Metal", "Folk", "Electronic", "Hip-Hop", "Jazz"} <= set(names)
    lowered = {n.lower() for n in names}
    assert not lowered & STOP_TAGS and not any(DECADE.match(n) for n in lowered)
    per_artist = data.items["concepts"].map(len)
    assert per_artist.max() == 3 and per_artist.gt(0).sum() > 8_000
    dylan = data.items[data.items["name"] == "Bob Dylan"].iloc[0]
    assert "Folk" in dylan["concepts"]


def test_lastfm_k_core_filtering(data_dir):
    config = DataConfig(dataset="lastfm", data_dir=str(data_dir), min_users_per_item=41, min_items_per_user=10)
    data = load_dataset(config)
    users_per_item = np.bincount(data.interactions["item"], minlength=data.n_items)
    items_per_user = np.bincount(data.interactions["user"], minlength=data.n_users)
    assert users_per_item.min() >= 41 and items_per_user.min() >= 10
    assert 200 < data.n_items < 1_000


def test_parsed_cache_round_trip(data_dir):
    config = DataConfig(dataset="lastfm", data_dir=str(data_dir))
    first, second = load_dataset(config), load_dataset(config)  # the second read comes from parquet
    assert first.checksum == second.checksum
    assert first.interactions.equals(second.interactions)
    assert list(first.items["concepts"]) == list(second.items["concepts"])
    assert list(first.user_ids) == list(second.user_ids)
