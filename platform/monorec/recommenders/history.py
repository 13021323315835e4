"""Models whose user tower is a function of the user's history instead of a row of a table.

A user's vector is computed from the items they interacted with, in their order: the mean of
the items' vectors (the test suite's kind), or a sequence encoder (SASRec). Such a model keeps
the training histories it computes its own users from (CSR rows, `history_indptr` and
`history_items`), saved with its weights, so the SAE, interpretation, steering and evaluation
read every known user's vector as they would read a table. A user it never saw is placed by the
same tower, one forward pass over their history (`Forward`, its kind's `fold_in`): no fitting.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from typing import ClassVar

import torch

from monorec.data.split import Split, csr_rows
from monorec.recommenders.base import TwoTowerRecommender

PAD = -1  # the item index of an empty position in a padded history
ENCODE_USERS = 512  # known users encoded at once when the frozen model computes them all


@dataclasses.dataclass(frozen=True)
class Histories:
    """`size` users' histories end to end: `items` in each user's order, `owner[k]` the user (0..size-1) of items[k]."""

    items: torch.Tensor
    owner: torch.Tensor
    size: int

    def padded(self, length: int) -> torch.Tensor:
        """(size, min(length, longest)) item indices: each history's last `length` items, left-padded with PAD,
        so that every history ends at the last column (a sequence encoder reads its state there)."""
        counts = torch.bincount(self.owner, minlength=self.size)
        starts = torch.cumsum(counts, 0) - counts
        position = torch.arange(len(self.items), device=counts.device) - starts[self.owner]
        from_end = counts[self.owner] - position  # 1 for each history's last item
        width = max(1, min(length, int(counts.max()) if len(counts) else 1))
        keep = from_end <= width
        grid = torch.full((self.size, width), PAD, dtype=torch.long, device=counts.device)
        grid[self.owner[keep], width - from_end[keep]] = self.items[keep]
        return grid


class HistoryRecommender(TwoTowerRecommender):
    """A two-tower model whose user vector is `encode` of the user's history; items keep their table."""

    user_table = False

    def __init__(self, n_users: int, n_items: int, embedding_dim: int, history_length: int = 0) -> None:
        super().__init__(n_users, n_items, embedding_dim)
        self.register_buffer("history_indptr", torch.zeros(n_users + 1, dtype=torch.long))
        self.register_buffer("history_items", torch.zeros(history_length, dtype=torch.long))
        self._known: torch.Tensor | None = None  # every known user's vector, once frozen

    @classmethod
    def from_architecture(cls, architecture: dict) -> HistoryRecommender:
        sizes = (architecture[key] for key in ("n_users", "n_items", "embedding_dim", "history_length"))
        return cls(*sizes)

    def architecture(self) -> dict:
        return {**super().architecture(), "history_length": len(self.history_items)}

    def attach(self, split: Split) -> HistoryRecommender:
        """Keep the split's training histories: the known users' vectors are computed from them."""
        indptr, items = split.history_csr()
        self.history_indptr = torch.as_tensor(indptr, dtype=torch.long, device=self.history_indptr.device)
        self.history_items = torch.as_tensor(items, dtype=torch.long, device=self.history_items.device)
        self._known = None
        return self

    @abstractmethod
    def encode(self, histories: Histories) -> torch.Tensor:
        """(histories.size, d): the user tower, one vector per history."""

    def user_embeddings(self, user_idx: torch.Tensor | None = None) -> torch.Tensor:
        if self.training or self.item_embedding.weight.requires_grad:
            return self._encode_users(user_idx)
        if self._known is None:  # frozen: the known users' vectors never change, so encode them once
            users = torch.arange(self.n_users, device=self.history_indptr.device)
            self._known = torch.cat([self._encode_users(block) for block in users.split(ENCODE_USERS)])
        return self._known if user_idx is None else self._known[user_idx]

    def _encode_users(self, user_idx: torch.Tensor | None) -> torch.Tensor:
        users = torch.arange(self.n_users, device=self.history_indptr.device) if user_idx is None else user_idx
        owner, items = csr_rows(self.history_indptr, self.history_items, users)
        return self.encode(Histories(items, owner, len(users)))

    def train(self, mode: bool = True) -> HistoryRecommender:
        self._known = None  # weights may change
        return super().train(mode)

    def _apply(self, fn, recurse: bool = True):  # moved to another device, or cast: encode again
        self._known = None
        return super()._apply(fn, recurse)

    def place(self, histories: list[torch.Tensor]) -> torch.Tensor:
        """(len(histories), d) the vectors of users given by their histories (item indices, in order):
        one pass of the tower over each block of `ENCODE_USERS` of them."""
        device = self.history_items.device
        blocks = [histories[start : start + ENCODE_USERS] for start in range(0, len(histories), ENCODE_USERS)]
        encoded = []
        for block in blocks:  # as many at once as known users are encoded
            owner = torch.repeat_interleave(torch.tensor([len(h) for h in block], device=device))
            encoded.append(self.encode(Histories(torch.cat(block).to(device), owner, len(block))))
        return torch.cat(encoded) if encoded else self.item_embedding.weight.new_zeros(0, self.embedding_dim)


@dataclasses.dataclass(frozen=True)
class Forward:
    """How a history tower places a user it never saw (a `FoldIn`): one forward pass, nothing fitted."""

    quick: ClassVar[bool] = True  # one pass over one history: a service may run it on its event loop

    def __call__(self, model: HistoryRecommender, history: torch.Tensor) -> torch.Tensor:
        return self.many(model, [history])[0]

    def many(self, model: HistoryRecommender, histories: list[torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return model.place(histories)


FORWARD = Forward()
