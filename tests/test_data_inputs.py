"""Bad and user-supplied inputs: errors name the file and line; downloads verify checksums."""

import hashlib
import logging
import zipfile

import pandas as pd
import pytest

from monorec.config import DataConfig, GenericDataConfig
from monorec.data import load_dataset, sources
from monorec.data.movielens import read_ratings
from monorec.data.sources import Archive, dataset_dir
from monorec.errors import DataError


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
