"""A self-contained, pickle-free bundle of everything needed to serve and steer one model.

recommender.safetensors/json   the frozen two-tower model
sae.safetensors/json           the SAE and its config
neurons.csv                    the neuron report (labels, confidence, top items, ...)
items.parquet, users.parquet   original ids and item names/concepts, in index order
train_positives.safetensors    each user's training items (CSR), to exclude seen items
config.json, metrics.json      how it was trained and how it measured
manifest.json                  sha256 of every file above; loading refuses any mismatch
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import torch

from monorec.config import ExperimentConfig, upgrade_keys
from monorec.data.dataset import InteractionData
from monorec.data.split import Split
from monorec.errors import DataError
from monorec.interpret.report import neurons_by_label
from monorec.recommenders import TwoTowerRecommender, load_recommender, save_recommender
from monorec.results import SAERun, read_result, write_result
from monorec.sae import SparseAutoencoder, load_sae, save_sae
from monorec.sae.training import sae_folds
from monorec.storage import load_tensors, read_json, replace_folder, save_tensors, write_json
from monorec.typed import from_dict, to_dict

MANIFEST = "manifest.json"


@dataclasses.dataclass
class Bundle:
    recommender: TwoTowerRecommender
    sae: SparseAutoencoder
    neurons: pd.DataFrame
    items: pd.DataFrame
    user_ids: pd.Index
    train_indptr: torch.Tensor
    train_items: torch.Tensor
    validation_users: torch.Tensor
    config: ExperimentConfig
    metrics: SAERun | None
    digest: str  # sha256 of manifest.json: names this exact bundle (pinned in the registry)

    @property
    def labels(self) -> dict[str, list[int]]:
        return neurons_by_label(self.neurons)


@dataclasses.dataclass(frozen=True)
class BundleSource:
    """What a bundle is written from: the models, the neuron report, the data, and how they were made."""

    recommender: TwoTowerRecommender
    sae: SparseAutoencoder
    neurons: pd.DataFrame
    data: InteractionData
    split: Split
    config: ExperimentConfig
    metrics: SAERun | None = None


def write_bundle(folder: Path, source: BundleSource) -> Path:
    """Write the bundle into `folder`, replacing any bundle there only once the new one is complete.

    Everything is written to a sibling temporary folder, then swapped in by renames: a crash
    leaves either the old bundle or the new one at `folder`, never a mixture or nothing.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.new-"))
    try:
        _write_files(staging, source)
        replace_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _write_files(folder: Path, source: BundleSource) -> None:
    data, split, config = source.data, source.split, source.config
    save_recommender(source.recommender, folder, {"dataset": data.name, "dataset_checksum": data.checksum})
    save_sae(source.sae, folder, {"path": ".", "dataset": data.name, "dataset_checksum": data.checksum})
    source.neurons.to_csv(folder / "neurons.csv", index=False)
    data.items[["item_id", "name", "concepts", "popularity_percentile"]].to_parquet(
        folder / "items.parquet", index=False
    )
    pd.DataFrame({"user_id": data.user_ids}).to_parquet(folder / "users.parquet", index=False)
    indptr, items = split.seen_csr()
    validation = sae_folds(split, config.sae_train).validation
    positives = {"indptr": indptr, "items": items, "validation_users": validation}
    save_tensors(folder / "train_positives.safetensors", {name: torch.as_tensor(a) for name, a in positives.items()})
    write_json(folder / "config.json", to_dict(config))
    if source.metrics is not None:
        write_result(source.metrics, folder / "metrics.json")
    write_json(folder / MANIFEST, {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.name != MANIFEST})


def read_bundle(folder: Path, device: torch.device | str = "cpu", digest: str | None = None) -> Bundle:
    """Load a bundle after checking every file against the manifest, and the manifest against `digest`.

    `digest` (the registry pins it when the bundle is registered) refuses a bundle whose files
    were changed and re-manifested after it was registered.
    """
    if not folder.is_dir():
        raise DataError(f"no bundle folder at {folder}")
    verify_manifest(folder)
    actual = manifest_digest(folder)
    if digest is not None and actual != digest:
        shown = f"manifest sha256 {actual[:12]}…, registered {digest[:12]}…"
        raise DataError(f"bundle {folder} is not the one registered ({shown}); refusing to load it")
    recommender, _ = load_recommender(folder, device)
    sae, _ = load_sae(folder, device)
    tensors = load_tensors(folder / "train_positives.safetensors", device)
    items = pd.read_parquet(folder / "items.parquet")
    items["concepts"] = [list(c) for c in items["concepts"]]
    neurons = pd.read_csv(folder / "neurons.csv")
    neurons["label"] = neurons["label"].astype(object).where(neurons["label"].notna(), None)
    return Bundle(
        recommender=recommender,
        sae=sae,
        neurons=neurons,
        items=items,
        user_ids=pd.Index(pd.read_parquet(folder / "users.parquet")["user_id"]),
        train_indptr=tensors["indptr"],
        train_items=tensors["items"],
        validation_users=tensors["validation_users"],
        config=from_dict(ExperimentConfig, upgrade_keys(read_json(folder / "config.json"))),  # an old bundle's too
        metrics=read_result(SAERun, folder / "metrics.json") if (folder / "metrics.json").is_file() else None,
        digest=actual,
    )


def manifest_digest(folder: Path) -> str:
    """The bundle's identity: the sha256 of its manifest (which holds every other file's sha256)."""
    return _sha256(folder / MANIFEST)


def verify_manifest(folder: Path) -> None:
    if not (folder / MANIFEST).is_file():
        raise DataError(f"{folder} is not a monorec bundle: {MANIFEST} is missing")
    expected = read_json(folder / MANIFEST)
    present = {p.name for p in folder.iterdir() if p.name != MANIFEST}
    problems = [f"{name}: missing" for name in sorted(set(expected) - present)]
    problems += [f"{name}: not in the manifest" for name in sorted(present - set(expected))]
    problems += [
        f"{name}: checksum differs"
        for name in sorted(set(expected) & present)
        if _sha256(folder / name) != expected[name]
    ]
    if problems:
        raise DataError(f"bundle {folder} does not match its manifest ({'; '.join(problems)}); refusing to load it")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
