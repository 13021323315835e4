"""Where dataset files come from: a local folder, or a one-time verified download into a cache.

Order of lookup for a public dataset:
1. the config's `data.data_dir`, else the `MONOREC_DATA_DIR` environment variable: the dataset's
   folder (e.g. `ml-1m/`) must be inside it, with every required file;
2. the user cache (`MONOREC_CACHE_DIR`, default `~/.cache/monorec`), filled once by downloading
   the official zip, verifying its published checksum and extracting it atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from monorec.errors import DataError
from monorec.storage import file_lock, replace_folder

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Archive:
    """A public dataset archive and the files we need from the folder it extracts to."""

    url: str
    algorithm: str
    checksum: str
    folder: str
    files: tuple[str, ...]


ARCHIVES = {
    "ml1m": Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        algorithm="md5",
        checksum="c4d9eecfca2ab87c1945afe126590906",
        folder="ml-1m",
        files=("ratings.dat", "movies.dat", "users.dat"),
    ),
    "ml100k": Archive(
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        algorithm="md5",
        checksum="0e33842e24a9c977be4e0107933c0723",
        folder="ml-100k",
        files=("u.data", "u.item"),
    ),
    "lastfm": Archive(
        url="https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
        algorithm="sha256",
        checksum="6738f48195667ff03caaab4d32ca9a3133d8cc026b7c3cdaf6ce1010e913c59c",
        folder="hetrec2011-lastfm-2k",
        files=("user_artists.dat", "artists.dat", "tags.dat", "user_taggedartists.dat"),
    ),
}


def cache_dir() -> Path:
    return Path(os.environ.get("MONOREC_CACHE_DIR") or Path.home() / ".cache" / "monorec")


def dataset_dir(name: str, data_dir: str | None = None) -> Path:
    """The folder holding dataset `name`'s files, downloading them once if no local copy is configured."""
    archive = ARCHIVES[name]
    root = data_dir or os.environ.get("MONOREC_DATA_DIR")
    if root:
        folder = Path(root).expanduser() / archive.folder
        _require_files(folder, archive, how=f"data dir {root}")
        return folder
    folder = cache_dir() / "datasets" / archive.folder
    with file_lock(cache_dir() / "datasets" / f".{archive.folder}.lock"):  # one download, however many jobs start
        if not all((folder / f).is_file() for f in archive.files):
            download(archive, folder)
    return folder


def _require_files(folder: Path, archive: Archive, how: str) -> None:
    missing = [f for f in archive.files if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"{folder} is missing {missing} (looked there because of {how}). Put the files from "
            f"{archive.url} there, or unset MONOREC_DATA_DIR / data.data_dir to download them."
        )


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(archive: Archive, folder: Path) -> None:
    """Download, verify and extract `archive` so that `folder` appears complete or not at all."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".download-") as tmp:
        zip_path = Path(tmp) / "archive.zip"
        log.info("downloading %s", archive.url)
        try:
            with urllib.request.urlopen(archive.url, timeout=60) as response, zip_path.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:
            raise DataError(
                f"could not download {archive.url} ({error}). Without network access, download it "
                f"elsewhere and unzip it so that {folder} holds {list(archive.files)}, or set "
                f"MONOREC_DATA_DIR to a folder containing '{archive.folder}/'."
            ) from None
        actual = file_digest(zip_path, archive.algorithm)
        if actual != archive.checksum:
            raise DataError(
                f"checksum mismatch for {archive.url}: {archive.algorithm} is {actual}, expected "
                f"{archive.checksum}. The download is corrupt or the file changed upstream; nothing was kept."
            )
        try:
            with zipfile.ZipFile(zip_path) as bundle:
                bundle.extractall(tmp)
        except zipfile.BadZipFile as error:
            raise DataError(f"{archive.url} is not a valid zip file: {error}") from None
        extracted = Path(tmp) / archive.folder
        _require_files(extracted, archive, how=f"the archive {archive.url}")
        replace_folder(extracted, folder)
    log.info("dataset files ready in %s", folder)
