"""Post hoc control: edit SAE codes, decode, score with the frozen recommender, re-rank.

Nothing stored is ever changed: every call starts from the codes of the original embeddings,
applies the requested edits to copies, and scores the decoded embeddings through the model's
own scoring function. With no edit the scores are exactly the reconstructed scores.

Operations on neuron j of the selected codes: `suppress` (z_j = 0), `set` (z_j = value),
`scale` (z_j *= value), `add` (z_j += value). Results are clamped at 0, since the SAE's codes are
non-negative and a negative code is outside anything it was trained on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal

import torch

from monorec.errors import UnknownIdError
from monorec.recommenders.base import TwoTowerRecommender
from monorec.sae.model import Encoded, SparseAutoencoder

Operation = Literal["suppress", "set", "scale", "add"]


@dataclasses.dataclass(frozen=True)
class Edit:
    """One code edit. `neuron` is an id or a label; `items` (indices) is required for target `item`."""

    target: Literal["user", "item"]
    neuron: int | str
    op: Operation
    value: float = 0.0
    items: tuple[int, ...] = ()


def apply_op(codes: torch.Tensor, neurons: Sequence[int], op: Operation, value: float) -> None:
    """Edit columns `neurons` of `codes` (rows = the vectors to edit) in place."""
    columns = codes[:, list(neurons)]
    if op == "suppress":
        columns.zero_()
    elif op == "set":
        columns.fill_(value)
    elif op == "scale":
        columns.mul_(value)
    elif op == "add":
        columns.add_(value)
    else:
        raise ValueError(f"unknown operation {op!r}")
    codes[:, list(neurons)] = columns.clamp_(min=0)


class Steerer:
    """Holds every user's and item's code for one (recommender, SAE) pair and scores edits.

    `labels` maps a label to its neurons: an edit addressed by label ("Horror") applies to every
    neuron carrying it, since a concept is often spread over several neurons; an edit addressed
    by id applies to that neuron alone.
    """

    def __init__(
        self, recommender: TwoTowerRecommender, sae: SparseAutoencoder, labels: Mapping[str, Sequence[int]] | None = None
    ) -> None:
        self.recommender, self.sae = recommender, sae
        self.labels = {label: list(neurons) for label, neurons in (labels or {}).items()}
        with torch.no_grad():
            self.user_codes = sae.encode(recommender.user_embeddings())
            self.item_codes = sae.encode(recommender.item_embeddings())
            self.item_hat = sae.decode(self.item_codes)

    def neurons(self, ref: int | str) -> list[int]:
        """Resolve a neuron id or a label ("Horror") to neuron ids, with a clear error for unknown ones."""
        if isinstance(ref, str) and not ref.isdigit():
            if ref not in self.labels:
                raise UnknownIdError(f"unknown neuron label {ref!r}; known labels: {sorted(self.labels)}")
            return self.labels[ref]
        neuron = int(ref)
        if not 0 <= neuron < self.sae.n_latents:
            raise UnknownIdError(f"unknown neuron {neuron}: the SAE has neurons 0..{self.sae.n_latents - 1}")
        return [neuron]

    def scores(self, users: torch.Tensor, edits: Sequence[Edit] = ()) -> torch.Tensor:
        """(len(users), n_items) logits after applying `edits` (never modifying stored codes)."""
        with torch.no_grad():
            user_codes = self.user_codes.codes[users].clone()
            item_edits = [e for e in edits if e.target == "item"]
            for edit in edits:
                if edit.target == "user":
                    apply_op(user_codes, self.neurons(edit.neuron), edit.op, edit.value)
            user_hat = self.sae.decode(Encoded(user_codes, self.user_codes.mean[users], self.user_codes.std[users]))
            item_hat = self.item_hat
            if item_edits:
                item_codes = self.item_codes.codes.clone()
                for edit in item_edits:
                    rows = torch.as_tensor(edit.items, dtype=torch.long, device=item_codes.device)
                    edited = item_codes[rows]
                    apply_op(edited, self.neurons(edit.neuron), edit.op, edit.value)
                    item_codes[rows] = edited
                item_hat = self.sae.decode(Encoded(item_codes, self.item_codes.mean, self.item_codes.std))
            return self.recommender.logits_all(users, user_hat, item_hat)
