"""Datasets in one form (`InteractionData`), their split and training negatives."""

from __future__ import annotations

from monorec.config import DataConfig
from monorec.data.dataset import InteractionData, build_dataset
from monorec.data.generic import load_generic
from monorec.data.lastfm import load_lastfm
from monorec.data.movielens import load_ml1m, load_ml100k
from monorec.data.sampling import NegativeSampler
from monorec.data.sequences import leave_last_out, timestamped_catalogue
from monorec.data.sources import dataset_dir
from monorec.data.split import Split, UserFolds, split_dataset, split_users
from monorec.data.synthetic import SyntheticTruth, make_synthetic

__all__ = [
    "InteractionData",
    "NegativeSampler",
    "Split",
    "SyntheticTruth",
    "UserFolds",
    "build_dataset",
    "load_dataset",
    "make_synthetic",
    "split_dataset",
    "split_users",
]


def load_dataset(config: DataConfig) -> InteractionData:
    """Load the configured dataset (from the data dir, the cache, or a one-time download)."""
    core = {"min_users_per_item": config.min_users_per_item, "min_items_per_user": config.min_items_per_user}
    if config.dataset == "ml1m":
        return load_ml1m(dataset_dir("ml1m", config.data_dir), **core)
    if config.dataset == "ml100k":
        return load_ml100k(dataset_dir("ml100k", config.data_dir), **core)
    if config.dataset == "lastfm":
        options = config.lastfm
        return load_lastfm(
            dataset_dir("lastfm", config.data_dir), options.vocabulary_size, options.tags_per_artist, **core
        )
    if config.dataset == "generic":
        return load_generic(config.generic, **core)
    return make_synthetic(config.synthetic)[0]


def load_split(config: DataConfig) -> tuple[InteractionData, Split]:
    """The dataset and its split by `data.split`: leave-last-out keeps only items with a timestamped row."""
    data = load_dataset(config)
    if config.split == "leave_last_out":
        data = timestamped_catalogue(data)
        return data, leave_last_out(data, config.test_negatives, config.min_train_positives, config.split_seed)
    split = split_dataset(data, config.holdout, config.test_negatives, config.min_train_positives, config.split_seed)
    return data, split
