"""What the config, the pipeline and the results page need to know about one model kind, without torch."""

from __future__ import annotations

import dataclasses
from typing import Literal

Origin = Literal["monorec", "implicit", "loaded"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class KindTraits:
    """One model kind as the layers below the models see it: names, needs and settings, no code.

    name: `model.kind`, and the kind's section of settings, `model.<name>`.
    origin: who produces the model (monorec's own training, the `implicit` library, or files
        and modules loaded as they are).
    display: its name on the results page.
    code: where its code is, "module:attribute" of its `KindSpec` (`monorec.recommenders.registry`),
        imported only when a model of the kind is built, trained, loaded or restored.
    extra: the pip extra its code needs (`monorec[<extra>]`), or None for the core.
    paper: one of the paper's own models (MF, NCF); the page compares every other kind with MF.
    ray_train: trains under Ray Train (`ray.num_workers > 0`).
    sparse_embeddings: trains with `train.sparse_embeddings` (tables read by `F.embedding`, sparse gradients).
    sized: its results-page cell carries `model.embedding_dim` (`ml1m_als64`), since several
        widths are compared; the paper's models and loaded models do not.
    sequential: its user vector is read from the user's history in time order: it needs a
        leave-last-out split (`data.split`), and a served history is an ordered list.
    settings: the dataclass of its own settings, read from `model.<name>` (None: it has none).
        Only its own kind's settings are in a config's hash, so adding a kind, or a setting to
        one, never changes the hash of a saved run of another kind.
    flat: its settings were flat keys of `model` before each kind had a section (`model.layers`):
        those keys still read, with a note naming the new one, and the hash keeps them flat, so
        that saved runs keep their hashes.
    in_every_hash: its settings are in every kind's hash, as `model.hidden` always was (MF's
        included); kept so for the same reason.
    """

    name: str
    origin: Origin
    display: str
    code: str
    extra: str | None = None
    paper: bool = False
    ray_train: bool = False
    sparse_embeddings: bool = False
    sized: bool = False
    sequential: bool = False
    settings: type | None = None
    flat: bool = False
    in_every_hash: bool = False

    @property
    def stage(self) -> str:
        """The pipeline stage that produces it: `train recommender` or `load recommender`."""
        return "load recommender" if self.origin == "loaded" else "train recommender"
