"""Planted sequences: each user walks a chain of items in their genre, so the next item depends on the last one.

Every item of a genre has one successor in that genre (a seeded random cycle); a user starts at a
random item of their genre and moves to the successor of their last item with probability
`follow`, else to a random item of the genre. A model of the sequence learns the successors; a
model of the set of a user's items (MF) learns only the genre, so it cannot tell the next item
among the genre's. Timestamps are the positions, one second apart.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from monorec.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig
from monorec.data.dataset import InteractionData, build_dataset
from monorec.kinds.sasrec import SASRecSettings

GENRES = ("Horror", "Comedy", "Drama", "Action", "Sci-Fi", "Romance")
SETTINGS = SASRecSettings(max_len=20, dropout=0.1, patience=3)  # a small SASRec that learns the chains
SASREC = ExperimentConfig(
    data=DataConfig(split="leave_last_out"),
    model=ModelConfig("sasrec", 32, sasrec=SETTINGS),
    train=TrainConfig(epochs=40, batch_size=64, lr=0.005, device="cpu"),
)


@dataclasses.dataclass(frozen=True)
class PlantedSequences:
    data: InteractionData
    successor: np.ndarray  # (n_items,) the item that follows each item in its genre's chain
    user_genre: np.ndarray  # (n_users,)
    item_genre: np.ndarray  # (n_items,)


def planted_sequences(
    n_users: int = 300, items_per_genre: int = 60, length: int = 20, follow: float = 0.85, seed: int = 0
) -> PlantedSequences:
    rng = np.random.default_rng(seed)
    n_items = items_per_genre * len(GENRES)
    item_genre = np.repeat(np.arange(len(GENRES)), items_per_genre)
    successor = np.empty(n_items, dtype=np.int64)
    for genre in range(len(GENRES)):
        cycle = rng.permutation(np.flatnonzero(item_genre == genre))
        successor[cycle] = np.roll(cycle, -1)
    user_genre = rng.integers(0, len(GENRES), n_users)
    rows = []
    for user in range(n_users):
        members = np.flatnonzero(item_genre == user_genre[user])
        item = int(rng.choice(members))
        walk = [item]
        while len(walk) < length:
            step = successor[item] if rng.random() < follow else rng.choice(members)
            item = int(step)
            if item not in walk:  # a user meets an item once
                walk.append(item)
        rows += [(user, item, float(t)) for t, item in enumerate(walk)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    table = pd.DataFrame(
        {"name": [f"item {i}" for i in range(n_items)], "concepts": [[GENRES[g]] for g in item_genre]},
        index=pd.Index(range(n_items), name="item_id"),
    )
    return PlantedSequences(build_dataset("planted_sequences", frame, table), successor, user_genre, item_genre)
