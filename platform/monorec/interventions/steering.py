"""Post hoc control: edit SAE codes, decode, score with the frozen recommender, re-rank.

Nothing stored is ever changed: every call starts from the codes of the original embeddings,
applies the requested interventions to copies, and scores the decoded embeddings through the
model's own scoring function. With no intervention the scores are exactly the reconstructed scores.

Operations on neuron j of the selected codes: `suppress` (z_j = 0), `set` (z_j = value),
`scale` (z_j *= value), `add` (z_j += value). Results are clamped at 0, since the SAE's codes are
non-negative and a negative code is outside anything it was trained on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import ClassVar, Literal

import torch

from monorec.errors import InvalidRequestError, UnknownIdError
from monorec.recommenders.base import TwoTowerRecommender
from monorec.sae.model import Encoded, SparseAutoencoder

Operation = Literal["suppress", "set", "scale", "add"]
MAX_VALUE = 1e6
MAX_ITEMS = 100


@dataclasses.dataclass(frozen=True)
class Intervention:
    """One edit of SAE codes, the same type from an HTTP body to the steering code.

    `neuron` is a neuron id or a label ("Horror": every neuron carrying it); `item_ids` (the
    dataset's own item ids) names the items an `item` edit applies to. Invalid combinations
    fail at construction, so a bad request is refused before anything is scored.
    """

    # Read by pydantic when the HTTP layer validates a body into this dataclass (no import needed).
    __pydantic_config__: ClassVar[dict[str, object]] = {"extra": "forbid", "allow_inf_nan": False}

    target: Literal["user", "item"]
    neuron: int | str
    op: Operation
    value: float = 0.0
    item_ids: tuple[int | str, ...] = ()

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or abs(self.value) > MAX_VALUE:
            raise InvalidRequestError(f"value must be a finite number within ±{MAX_VALUE:g}, got {self.value}")
        if len(self.item_ids) > MAX_ITEMS:
            raise InvalidRequestError(f"an intervention names at most {MAX_ITEMS} items, got {len(self.item_ids)}")
        if self.target == "item" and not self.item_ids:
            raise InvalidRequestError("an item intervention needs item_ids")


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
        raise InvalidRequestError(f"unknown operation {op!r}")
    codes[:, list(neurons)] = columns.clamp_(min=0)


class Steerer:
    """Holds every user's and item's code for one (recommender, SAE) pair and scores interventions.

    `labels` maps a label to its neurons: an intervention addressed by label ("Horror") applies
    to every neuron carrying it, since a concept is often spread over several neurons; one
    addressed by id applies to that neuron alone. `item_ids` are the dataset's ids of the item
    indices (default: the indices themselves), which interventions use to name items.
    """

    def __init__(
        self,
        recommender: TwoTowerRecommender,
        sae: SparseAutoencoder,
        labels: Mapping[str, Sequence[int]] | None = None,
        item_ids: Sequence[int | str] | None = None,
    ) -> None:
        self.recommender, self.sae = recommender, sae
        self.labels = {label: list(neurons) for label, neurons in (labels or {}).items()}
        self.item_ids = list(range(recommender.n_items) if item_ids is None else item_ids)
        self._item_index = {str(item): index for index, item in enumerate(self.item_ids)}
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

    def items(self, item_ids: Sequence[int | str]) -> list[int]:
        """Item indices of dataset item ids."""
        try:
            return [self._item_index[str(item)] for item in item_ids]
        except KeyError as missing:
            raise UnknownIdError(f"unknown item_id {missing.args[0]!r}") from None

    def check(self, interventions: Sequence[Intervention]) -> None:
        """Resolve every neuron and item up front, so that a bad request fails before any scoring."""
        for intervention in interventions:
            self.neurons(intervention.neuron)
            self.items(intervention.item_ids)

    def scores(self, users: torch.Tensor, interventions: Sequence[Intervention] = ()) -> torch.Tensor:
        """(len(users), n_items) logits after applying `interventions` (never modifying stored codes)."""
        with torch.no_grad():
            user_codes = self.user_codes.codes[users].clone()
            for edit in (i for i in interventions if i.target == "user"):
                apply_op(user_codes, self.neurons(edit.neuron), edit.op, edit.value)
            user_hat = self.sae.decode(Encoded(user_codes, self.user_codes.mean[users], self.user_codes.std[users]))
            item_hat = self.item_hat
            item_edits = [i for i in interventions if i.target == "item"]
            if item_edits:
                item_codes = self.item_codes.codes.clone()
                for edit in item_edits:
                    rows = torch.as_tensor(self.items(edit.item_ids), dtype=torch.long, device=item_codes.device)
                    edited = item_codes[rows]
                    apply_op(edited, self.neurons(edit.neuron), edit.op, edit.value)
                    item_codes[rows] = edited
                item_hat = self.sae.decode(Encoded(item_codes, self.item_codes.mean, self.item_codes.std))
            return self.recommender.logits_all(users, user_hat, item_hat)
