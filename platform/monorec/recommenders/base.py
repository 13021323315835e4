"""The two-tower interface the SAE relies on: embeddings out, and scoring with explicit embeddings.

`logits(user_idx, item_idx, user_emb, item_emb)` takes the embeddings as arguments so that
reconstructed or edited embeddings can be scored by the frozen model; anything that is not an
embedding (MF's biases) stays looked up by index. The user tower is a table by default; a
kind whose user vector is a function of the user's history has none (`user_table`,
`recommenders.history`).
"""

from __future__ import annotations

from abc import ABC
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

if TYPE_CHECKING:
    from typing_extensions import Self

    from monorec.config import ModelConfig


def embedding_tables(*rows: int, dim: int) -> list[nn.Embedding]:
    """Tables of `rows` rows initialised N(0, 0.1^2), as every model monorec trains starts (MF, NCF, LightGCN)."""
    tables = [nn.Embedding(n, dim) for n in rows]
    for table in tables:
        nn.init.normal_(table.weight, std=0.1)
    return tables


def _rows(table: nn.Embedding, index: torch.Tensor | None) -> torch.Tensor:
    """The table, or its rows at `index`: through the embedding op when it is sparse (row-wise
    gradients, `train.sparse_embeddings`), by plain indexing otherwise (the dense default)."""
    if index is None:
        return table.weight
    return table(index) if table.sparse else table.weight[index]


class TwoTowerRecommender(nn.Module, ABC):
    kind: str
    user_table: ClassVar[bool] = True  # False: no user table, `user_embeddings` computes them (a history tower)

    def __init__(self, n_users: int, n_items: int, embedding_dim: int) -> None:
        super().__init__()
        self.n_users, self.n_items, self.embedding_dim = n_users, n_items, embedding_dim
        if self.user_table:
            self.user_embedding, self.item_embedding = embedding_tables(n_users, n_items, dim=embedding_dim)
        else:
            (self.item_embedding,) = embedding_tables(n_items, dim=embedding_dim)

    @classmethod
    def build(cls, config: ModelConfig, n_users: int, n_items: int) -> Self:
        """A freshly initialised model of this class for `config` (the kinds monorec trains)."""
        return cls(n_users, n_items, config.embedding_dim)

    @classmethod
    def from_architecture(cls, architecture: dict) -> Self:
        """An empty model of a saved `architecture()`, ready for `load_state_dict`."""
        return cls(architecture["n_users"], architecture["n_items"], architecture["embedding_dim"])

    def user_embeddings(self, user_idx: torch.Tensor | None = None) -> torch.Tensor:
        return _rows(self.user_embedding, user_idx)

    def item_embeddings(self, item_idx: torch.Tensor | None = None) -> torch.Tensor:
        return _rows(self.item_embedding, item_idx)

    def cross_logits(
        self, user_idx: torch.Tensor, item_idx: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        """(len(user_idx), len(item_idx)) logits of every given user against every given item.

        Scores each pair through `logits`; a model whose score is a dot product plus per-user and
        per-item terms computes the matrix in one product instead (MF).
        """
        rows = torch.arange(len(user_idx), device=user_idx.device).repeat_interleave(len(item_idx))
        cols = torch.arange(len(item_idx), device=item_idx.device).repeat(len(user_idx))
        pairs = self.logits(user_idx[rows], item_idx[cols], user_emb[rows], item_emb[cols])
        return pairs.view(len(user_idx), len(item_idx))

    def pair_parameters(self, user_idx: torch.Tensor, item_idx: torch.Tensor) -> list[torch.Tensor]:
        """The parameters each (user, item) pair owns, one row per pair: what `train.pair_l2` weighs."""
        return [self.user_embeddings(user_idx), self.item_embeddings(item_idx)]

    def logits(
        self, user_idx: torch.Tensor | None, item_idx: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        """Pre-sigmoid affinity of aligned (user, item) pairs: all arguments have the batch size first.

        `user_idx` None: folded-in users, without per-user terms (as in `logits_all`). By default
        the dot product e_u . e_i (LightGCN, history towers); MF adds its biases, NCF has its MLP.
        """
        return (user_emb * item_emb).sum(-1)

    def logits_all(self, user_idx: torch.Tensor | None, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        """(len(user_emb), n_items) logits of each user against every item embedding in `item_emb`.

        `user_idx` None: users outside the table (folded in from a history, `recommenders.fold_in`),
        who have no per-user term such as MF's user bias. By default dot products, as `logits`.
        Never writes into `user_emb` or `item_emb`: a service's edited item tables are shared.
        """
        return user_emb @ item_emb.T

    def bytes_per_score(self) -> int:
        """Memory `logits_all` needs per (user, item) cell: sizes evaluation tiles (`rows_per_tile`)."""
        return 4

    def item_biases(self) -> torch.Tensor | None:
        """Per-item terms added to every logit, or None when the model has none (NCF).

        Steering reads them out of the SAE codes (`interventions.bias_readout.BiasReadout`), since in
        MF they carry much of the popularity signal the embeddings do not.
        """
        return None

    def forward(self, user_idx: torch.Tensor, item_idx: torch.Tensor) -> torch.Tensor:
        return self.logits(user_idx, item_idx, self.user_embeddings(user_idx), self.item_embeddings(item_idx))

    def rank_scores(self, user_idx: torch.Tensor) -> torch.Tensor:
        """Logits of `user_idx` against all items with the model's own embeddings (for ranking)."""
        return self.logits_all(user_idx, self.user_embeddings(user_idx), self.item_embeddings())

    def architecture(self) -> dict:
        """What `load_recommender` needs to rebuild the module before loading weights."""
        return {
            "kind": self.kind,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "embedding_dim": self.embedding_dim,
        }
