"""Bad and user-supplied inputs: errors name the file and line; downloads verify checksums."""

import hashlib
import logging
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from monorec.config import DataConfig, GenericDataConfig
from monorec.data import load_dataset, sources
from monorec.data.movielens import read_ratings
from monorec.data.sources import Archive, dataset_dir
from monorec.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("1::10::5::978300760\n1::11::4::\n1::x12::3::978300761\n")
    with pytest.raises(DataError, match=r"ratings.dat, line 3: column 'item_id' must be an integer, got 'x12'"):
        read_ratings(path)
    path.write_text("1::10::5::978300760\n1::11::4::97830::0761\n")
    with pytest.raises(DataError, match=r"ratings.dat: malformed line: .*line 2"):
        read_ratings(path)
    path.write_text("1::10::5::978300760\n1::11::4::yesterday\n")
    with pytest.raises(DataError, match=r"line 2: column 'timestamp' must be a number"):
        read_ratings(path)


def test_empty_files_are_clear_errors(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("\n\n")
    with pytest.raises(DataError, match=r"ratings.dat is empty"):
        read_ratings(path)
    csv = tmp_path / "inter.csv"
    csv.write_text("")
    with pytest.raises(DataError, match=r"inter.csv is empty"):
        load_dataset(DataConfig(dataset="generic", generic=GenericDataConfig(interactions_path=str(csv))))


def _generic_files(tmp_path):
    inter = tmp_path / "inter.csv"
    inter.write_text("uid,iid,ts\nalice,a,1\nalice,b,2\nbob,a,3\nbob,a,4\ncarol,c,\n")
    items = tmp_path / "items.parquet"
    pd.DataFrame({"iid": ["a", "b", "c"], "title": ["A", "B", "C"], "tags": [["x", "y"], ["y"], []]}).to_parquet(items)
    return inter, items


def test_generic_csv_with_parquet_item_table(tmp_path, caplog):
    inter, items = _generic_files(tmp_path)
    options = GenericDataConfig(
        interactions_path=str(inter),
        user_col="uid",
        item_col="iid",
        timestamp_col="ts",
        items_path=str(items),
        item_id_col="iid",
        name_col="title",
        concepts_col="tags",
    )
    with caplog.at_level(logging.INFO, logger="monorec"):
        data = load_dataset(DataConfig(dataset="generic", generic=options))
    assert "dropped 1 duplicate" in caplog.text
    assert (data.n_users, data.n_items, data.n_interactions) == (3, 3, 4)
    assert list(data.items["name"]) == ["A", "B", "C"] and data.concept_names == ["x", "y"]
    assert list(data.user_ids.get_indexer(["bob", "alice"])) == [1, 0]
    assert data.interactions["timestamp"].isna().sum() == 1


def test_generic_unknown_column(tmp_path):
    inter, _ = _generic_files(tmp_path)
    options = GenericDataConfig(interactions_path=str(inter), user_col="user", item_col="iid")
    with pytest.raises(DataError, match=r"unknown column\(s\) \['user'\]; the file has \['uid', 'iid', 'ts'\]"):
        load_dataset(DataConfig(dataset="generic", generic=options))


def test_missing_data_dir_files_are_named(tmp_path):
    with pytest.raises(DataError, match=r"ml-1m is missing \['ratings.dat', 'movies.dat', 'users.dat'\]"):
        dataset_dir("ml1m", str(tmp_path))


@pytest.fixture
def fake_archive(tmp_path, monkeypatch):
    """A local zip served over file:// in place of the GroupLens download."""
    monkeypatch.setenv("MONOREC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MONOREC_DATA_DIR", raising=False)
    zip_path = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(zip_path, "w") as bundle:
        for name in ("ratings.dat", "movies.dat", "users.dat"):
            bundle.writestr(f"ml-1m/{name}", f"content of {name}\n")
    digest = hashlib.md5(zip_path.read_bytes()).hexdigest()
    return zip_path, digest


def test_download_verifies_and_extracts_once(fake_archive, monkeypatch):
    zip_path, digest = fake_archive
    archive = Archive(zip_path.as_uri(), "md5", digest, "ml-1m", ("ratings.dat", "movies.dat", "users.dat"))
    monkeypatch.setitem(sources.ARCHIVES, "ml1m", archive)
    folder = dataset_dir("ml1m")
    assert (folder / "movies.dat").read_text() == "content of movies.dat\n"
    zip_path.unlink()  # a second call must not download again
    assert dataset_dir("ml1m") == folder


def test_checksum_mismatch_is_an_error(fake_archive, monkeypatch):
    zip_path, _ = fake_archive
    archive = Archive(zip_path.as_uri(), "md5", "0" * 32, "ml-1m", ("ratings.dat",))
    monkeypatch.setitem(sources.ARCHIVES, "ml1m", archive)
    with pytest.raises(DataError, match=r"checksum mismatch .* nothing was kept"):
        dataset_dir("ml1m")
    assert not (sources.cache_dir() / "datasets" / "ml-1m").exists()


def test_no_network_says_where_to_put_files(fake_archive, monkeypatch):
    archive = Archive("http://127.0.0.1:9/ml-1m.zip", "md5", "0" * 32, "ml-1m", ("ratings.dat",))
    monkeypatch.setitem(sources.ARCHIVES, "ml1m", archive)
    with pytest.raises(DataError, match=r"could not download .* or set MONOREC_DATA_DIR"):
        dataset_dir("ml1m")


@pytest.mark.parametrize(
    ("sep", "suffix"), [("::", ".dat"), ("|", ".data"), ("\t", ".txt"), (";", ".csv")], ids=["::", "|", "tab", ";"]
)
def test_headerless_files_with_any_delimiter(tmp_path, sep, suffix):
    rows = [("u1", "i1", "10"), ("u1", "i2", "11"), ("u2", "i2", "")]
    (tmp_path / f"ratings{suffix}").write_text("".join(sep.join(row) + "\n" for row in rows))
    (tmp_path / f"items{suffix}").write_text(f"i1{sep}Alien{sep}Horror/Sci-Fi\ni2{sep}Heat{sep}Crime\n")
    options = GenericDataConfig(
        interactions_path=str(tmp_path / f"ratings{suffix}"),
        sep=sep,
        header=False,
        user_col="0",
        item_col="1",
        timestamp_col="2",
        items_path=str(tmp_path / f"items{suffix}"),
        item_id_col="0",
        name_col="1",
        concepts_col="2",
        concepts_sep="/",
    )
    data = load_dataset(DataConfig(dataset="generic", generic=options))
    assert (data.n_users, data.n_items, data.n_interactions) == (2, 2, 3)
    assert list(data.items["name"]) == ["Alien", "Heat"] and data.concept_names == ["Crime", "Horror", "Sci-Fi"]
    assert data.interactions["timestamp"].isna().sum() == 1


def test_headerless_file_named_by_header_says_how_to_name_columns(tmp_path):
    (tmp_path / "u.data").write_text("1\t2\t5\n")
    options = GenericDataConfig(interactions_path=str(tmp_path / "u.data"), sep="\t", header=False)
    with pytest.raises(DataError, match=r"unknown column\(s\) \['user_id', 'item_id'\].*by position: '0', '1'"):
        load_dataset(DataConfig(dataset="generic", generic=options))
    unsupported = GenericDataConfig(interactions_path=str(tmp_path / "u.data"))
    with pytest.raises(DataError, match=r"unsupported file type '\.data'.*set data\.generic\.sep"):
        load_dataset(DataConfig(dataset="generic", generic=unsupported))


def test_generic_example_config_reads_movielens_own_files_like_the_ml1m_loader(data_dir):
    from monorec.config import ExperimentConfig, load_config

    folder = data_dir / "ml-1m"
    paths = [
        f"data.generic.interactions_path={folder / 'ratings.dat'}",
        f"data.generic.items_path={folder / 'movies.dat'}",
    ]
    config = load_config(
        ExperimentConfig, ROOT / "configs" / "generic_example.yaml", [*paths, "data.min_users_per_item=1"]
    )
    generic = load_dataset(config.data)
    ml1m = load_dataset(DataConfig(dataset="ml1m", data_dir=str(data_dir)))
    assert (generic.n_users, generic.n_items, generic.n_interactions) == (
        ml1m.n_users,
        ml1m.n_items,
        ml1m.n_interactions,
    )
    assert generic.concept_names == ml1m.concept_names  # the 18 genres, from the `|`-separated column
    assert not any("\ufffd" in name for name in generic.items["name"])  # latin-1 titles read as such


def test_text_in_another_encoding_names_the_setting(tmp_path):
    (tmp_path / "ratings.csv").write_bytes("user_id,item_id\nJosé,Amélie\n".encode("latin-1"))
    options = GenericDataConfig(interactions_path=str(tmp_path / "ratings.csv"))
    with pytest.raises(DataError, match=r"not utf-8 text .*set data\.generic\.encoding, e\.g\. latin-1"):
        load_dataset(DataConfig(dataset="generic", generic=options))
    latin = GenericDataConfig(interactions_path=str(tmp_path / "ratings.csv"), encoding="latin-1")
    assert load_dataset(DataConfig(dataset="generic", generic=latin)).user_ids.tolist() == ["José"]


def test_profile_warns_when_most_items_are_too_sparse(caplog):
    from monorec.data import build_dataset
    from monorec.data.profile import DataProfile

    # 30 items: 10 seen by 6 users each, 20 seen once.
    users = [u for item in range(10) for u in range(6)] + list(range(20))
    items = [item for item in range(10) for _ in range(6)] + list(range(10, 30))
    data = build_dataset("toy", pd.DataFrame({"user_id": users, "item_id": items}))
    profile = DataProfile.of(data)
    assert profile.items == 30 and profile.sparse_item_share == pytest.approx(20 / 30)
    assert "min_users_per_item: 5" in profile.warning()
    dense = build_dataset("dense", pd.DataFrame({"user_id": users[:60], "item_id": items[:60]}))
    assert DataProfile.of(dense).warning() is None and "10 items" in DataProfile.of(dense).describe()
