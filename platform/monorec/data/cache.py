"""Parquet cache of parsed datasets, keyed by the source files' checksums and the parse options.

Parsing ML-1M's `::` text takes seconds; reading the parquet copy takes milliseconds. The key
changes whenever a source file, an option or the format version changes, so a stale cache is
never read. Entries are written to a temporary folder and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from monorec.data.dataset import InteractionData
from monorec.data.sources import cache_dir, file_digest
from monorec.storage import file_lock, replace_folder

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: int32 indices, timestamp column only where the source has one


def cache_key(name: str, sources: Sequence[Path], options: dict) -> str:
    digest = hashlib.sha256(json.dumps([FORMAT_VERSION, name, options], sort_keys=True).encode())
    for path in sources:
        digest.update(file_digest(path).encode())
    return digest.hexdigest()[:20]


def load_cached(
    name: str, sources: Sequence[Path], options: dict, parse: Callable[[str], InteractionData]
) -> InteractionData:
    """Return the cached parse of `sources`, calling `parse(checksum)` and caching it on a miss."""
    key = cache_key(name, sources, options)
    folder = cache_dir() / "parsed" / f"{name}-{key}"
    with file_lock(folder.parent / f".{folder.name}.lock"):  # parse once, however many processes ask
        if (folder / "meta.json").is_file():
            log.info("%s: reading parsed cache %s", name, folder)
            return _read(folder)
        data = parse(key)
        _write(data, folder)
        return data


def _write(data: InteractionData, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    try:
        data.interactions.to_parquet(tmp / "interactions.parquet", index=False)
        data.items.to_parquet(tmp / "items.parquet", index=False)
        users = data.users.copy()
        users.insert(0, "user_id", data.user_ids)
        users.to_parquet(tmp / "users.parquet", index=False)
        (tmp / "meta.json").write_text(json.dumps({"name": data.name, "checksum": data.checksum}))
        replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read(folder: Path) -> InteractionData:
    meta = json.loads((folder / "meta.json").read_text())
    items = pd.read_parquet(folder / "items.parquet")
    items["concepts"] = [list(c) for c in items["concepts"]]
    users = pd.read_parquet(folder / "users.parquet")
    return InteractionData(
        name=meta["name"],
        interactions=pd.read_parquet(folder / "interactions.parquet"),
        user_ids=pd.Index(users.pop("user_id")),
        item_ids=pd.Index(items["item_id"]),
        items=items,
        users=users,
        checksum=meta["checksum"],
    )
