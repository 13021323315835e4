"""Candidate concepts for naming neurons, as one binary item x concept matrix with families.

Families: `genre` (the dataset's genres or tags), `decade` ("1990s", where years are known) and
`popularity` ("Popular": the `popular_share` most popular items; "Long tail": the
`long_tail_share` least popular), so a single labelling rule covers all three.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from monorec.data.dataset import InteractionData


@dataclasses.dataclass(frozen=True)
class Concepts:
    names: list[str]
    families: list[str]
    matrix: np.ndarray  # (n_items, n_concepts) bool

    def family(self, name: str) -> np.ndarray:
        """Column indices of one family."""
        return np.array([j for j, f in enumerate(self.families) if f == name], dtype=np.int64)

    def index(self, name: str) -> int:
        return self.names.index(name)


def item_concepts(data: InteractionData, popular_share: float = 0.1, long_tail_share: float = 0.5) -> Concepts:
    genres, genre_names = data.concept_matrix()
    columns, names, families = [genres], list(genre_names), ["genre"] * len(genre_names)
    decades = data.items["decade"]
    for decade in sorted(decades.dropna().unique()):
        columns.append(decades.eq(decade).fillna(False).to_numpy()[:, None])
        names.append(f"{int(decade)}s")
        families.append("decade")
    percentile = data.items["popularity_percentile"].to_numpy()
    columns += [(percentile < 100 * popular_share)[:, None], (percentile >= 100 * (1 - long_tail_share))[:, None]]
    names += ["Popular", "Long tail"]
    families += ["popularity", "popularity"]
    return Concepts(names, families, np.concatenate(columns, axis=1).astype(bool))
