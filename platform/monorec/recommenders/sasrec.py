"""SASRec: causal self-attention over the user's last `max_len` items; the user vector is the last position's state.

Inputs are the items' vectors (scaled by sqrt(d)) plus learned positions, left-padded so that
every history ends at the last position; each position attends to itself and the real items
before it. The score of item i is the final state's dot product with i's vector, the same table
as the inputs' (shared embeddings), so the SAE, steering and fidelity see a two-tower model:
user edits act on the final state's code, item edits on the output vectors only (`logits_all`
takes the item vectors as an argument, while `encode` reads the table). docs/method.md §1b.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from monorec.kinds.sasrec import KIND, SASRecSettings
from monorec.recommenders.history import FORWARD, PAD, Histories, HistoryRecommender
from monorec.recommenders.registry import KindSpec
from monorec.recommenders.sequence_training import train_sequence_model

if TYPE_CHECKING:
    from monorec.config import ModelConfig


class SASRec(HistoryRecommender):
    """Self-attentive sequential recommendation, scored by dot products with the shared item table."""

    kind = KIND.name

    def __init__(
        self,
        n_users: int,
        n_items: int,
        embedding_dim: int,
        history_length: int = 0,
        settings: SASRecSettings | None = None,
    ) -> None:
        super().__init__(n_users, n_items, embedding_dim, history_length)
        self.settings = settings or SASRecSettings()
        d, s = embedding_dim, self.settings
        self.position = nn.Embedding(s.max_len, d)
        nn.init.normal_(self.position.weight, std=0.1)  # as the item table (`embedding_tables`)
        self.input_dropout = nn.Dropout(s.dropout)
        block = nn.TransformerEncoderLayer(
            d, s.heads, dim_feedforward=d, dropout=s.dropout, batch_first=True, norm_first=True
        )
        block.self_attn.dropout = 0.0  # dropout on the attention weights costs a third of an epoch on CPU
        self.blocks = nn.TransformerEncoder(block, s.blocks, norm=nn.LayerNorm(d), enable_nested_tensor=False)

    @classmethod
    def build(cls, config: ModelConfig, n_users: int, n_items: int) -> SASRec:
        return cls(n_users, n_items, config.embedding_dim, settings=config.settings)

    @classmethod
    def from_architecture(cls, architecture: dict) -> SASRec:
        sizes = (architecture[key] for key in ("n_users", "n_items", "embedding_dim", "history_length"))
        return cls(*sizes, settings=SASRecSettings(**architecture["sasrec"]))

    def architecture(self) -> dict:
        return {**super().architecture(), "sasrec": vars(self.settings)}

    def states(self, items: torch.Tensor) -> torch.Tensor:
        """(B, L, d) hidden states of left-padded item sequences (B, L): position t has read items ..t."""
        real = items != PAD
        width = items.shape[1]
        vectors = self.item_embedding.weight[items.clamp(min=0)] * math.sqrt(self.embedding_dim)
        positions = self.position.weight[self.settings.max_len - width :]
        inputs = self.input_dropout((vectors + positions) * real[..., None])
        causal = torch.ones(width, width, dtype=torch.bool, device=items.device).tril()
        allowed = causal & (real[:, None, :] | torch.eye(width, dtype=torch.bool, device=items.device))
        blocked = (~allowed).repeat_interleave(self.settings.heads, 0)
        return self.blocks(inputs, mask=blocked)

    def encode(self, histories: Histories) -> torch.Tensor:
        return self.states(histories.padded(self.settings.max_len))[:, -1]


SPEC = KindSpec(
    KIND,
    build=SASRec.build,
    attach=SASRec.attach,
    trainer=train_sequence_model,
    restore=SASRec.from_architecture,
    fold_in=lambda _: FORWARD,
)
