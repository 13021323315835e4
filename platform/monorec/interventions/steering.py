"""Post hoc control: edit SAE codes, carry the change into the embeddings, score with the frozen model.

Nothing stored is ever changed. An intervention edits a copy of some users' or items' codes;
the edit's decoded change, (z' - z) W_dec^T * std, is added to the ORIGINAL embeddings, which
the frozen recommender then scores. So with no intervention the scores are exactly the
recommender's own, and the SAE's reconstruction error never reshuffles the rest of a list:
only what the edit moves moves (docs/method.md §5).

Operations on neuron j, each with a continuous strength s:
    suppress  z_j <- (1 - s) z_j        s = 1 removes the neuron, s > 1 steers away from it
    boost     z_j <- z_j + s a_j         a_j = the neuron's largest activation on that tower
    scale     z_j <- s z_j               any factor, negative included
    set       z_j <- s
An edit addressed by `concept` moves the concept's direction (`monorec.interventions.directions`):
every neuron j carrying it, by its weight w_j (the largest 1): z_j <- z_j + w_j (edit(z_j) - z_j).
An edit of one neuron, or of a label's neurons, has weight 1 on each.
Towers: `user` (the requesting users' codes), `item` (the listed items, or every item) or
`both`. On `both`, suppress beyond removal (s > 1) pushes only the user side further and just
removes the neuron from the items: negating both sides would multiply two negatives back into
a boost of the very concept being suppressed. Where the model has item biases (MF), an item
edit also moves each item's bias by the linear read-out of its popularity neurons' change
(`BiasReadout`; it needs the item table's popularity): popularity lives largely in those biases.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import pandas as pd
import torch

from monorec.config.sae import Tower
from monorec.errors import InvalidRequestError, UnknownIdError
from monorec.ids import lookup, neuron_ref, quote
from monorec.interventions.bias_readout import BiasReadout
from monorec.interventions.cache import TensorCache
from monorec.interventions.directions import POPULARITY, Direction, item_directions
from monorec.interventions.targets import Target
from monorec.recommenders.base import TwoTowerRecommender
from monorec.sae.model import Encoded

Operation = Literal["suppress", "boost", "scale", "set"]
DEFAULT_STRENGTH = {"suppress": 1.0, "boost": 1.0, "scale": 1.0}  # `set` needs an explicit value
STRENGTH_LIMIT = 1e4  # the largest |strength| a request may give (the calibrator searches far below: SEARCH_CEILING)
MAX_ITEMS = 100
MAX_NAMED = 60  # concepts an unknown-concept error lists
CALIBRATED_OPS = ("suppress", "boost")  # a target needs a strength whose effect grows with it


@dataclasses.dataclass(frozen=True)
class Intervention:
    """One edit of SAE codes, the same type from an HTTP body to the steering code.

    `neuron` is a neuron id or a label ("Horror": every neuron carrying it, alike); `concept`
    instead names a concept direction ("Horror", or "popularity"): each neuron weighted by how
    strongly it separates the concept's items from the rest. Exactly one of the two. `item_ids` (the
    dataset's own ids) restrict an item-tower edit to those items; empty means every item.
    `strength` defaults per op (1); with `target` instead, the strength is calibrated
    (`monorec.interventions.calibration`). Invalid combinations fail at construction.
    """

    neuron: int | str | None = None
    op: Operation = "suppress"
    strength: float | None = None
    tower: Tower = "user"
    item_ids: tuple[int | str, ...] = ()
    target: Target | None = None
    concept: str | None = None

    def __post_init__(self) -> None:
        if (self.neuron is None) == (self.concept is None):
            raise InvalidRequestError("an intervention names exactly one of neuron and concept")
        if self.strength is not None:
            if not math.isfinite(self.strength) or abs(self.strength) > STRENGTH_LIMIT:
                raise InvalidRequestError(f"strength must be finite and within ±{STRENGTH_LIMIT:g}")
            if self.op in CALIBRATED_OPS and self.strength < 0:
                raise InvalidRequestError(f"{self.op} takes a strength >= 0 (use scale for a signed factor)")
        if len(self.item_ids) > MAX_ITEMS:
            raise InvalidRequestError(f"an intervention names at most {MAX_ITEMS} items, got {len(self.item_ids)}")
        if self.item_ids and self.tower == "user":
            raise InvalidRequestError("item_ids apply to the item tower: give tower 'item' or 'both'")
        if self.target is not None:
            if self.strength is not None:
                raise InvalidRequestError("give a strength or a target, not both")
            if self.op not in CALIBRATED_OPS:
                raise InvalidRequestError(f"a target calibrates {' or '.join(CALIBRATED_OPS)}, not {self.op}")
        elif self.op == "set" and self.strength is None:
            raise InvalidRequestError("set needs a strength: the value to set the neuron to")

    @property
    def resolved_strength(self) -> float:
        """The strength to apply (calibrate first when only a target is given)."""
        if self.strength is not None:
            return self.strength
        if self.target is not None:
            raise InvalidRequestError("this intervention has a target: calibrate it before scoring")
        return DEFAULT_STRENGTH[self.op]

    def at(self, strength: float) -> Intervention:
        """The same edit at a given strength (no target)."""
        return dataclasses.replace(self, strength=strength, target=None)


def edited_codes(codes: torch.Tensor, op: Operation, strength: float, reference: torch.Tensor) -> torch.Tensor:
    """The edited copy of `codes` (rows: vectors, columns: the addressed neurons).

    `reference` holds each column's largest activation on the tower, the unit of `boost`.
    """
    if op == "suppress":
        return (1 - strength) * codes
    if op == "boost":
        return codes + strength * reference
    if op == "scale":
        return strength * codes
    if op == "set":
        return torch.full_like(codes, strength)
    raise InvalidRequestError(f"unknown operation {op!r}")


def item_side_strength(edit: Intervention, strength: float) -> float:
    """The strength on the item tower: a suppression on both towers goes no further than removal there."""
    return min(strength, 1.0) if edit.tower == "both" and edit.op == "suppress" else strength


@dataclasses.dataclass(frozen=True)
class Users:
    """The users a request scores: table rows (`index`), or users folded in from histories (`index` None)."""

    index: torch.Tensor | None
    embeddings: torch.Tensor
    codes: Encoded

    def row(self, n: int) -> Users:
        """The n-th user alone (views, no copies)."""
        index = None if self.index is None else self.index[n : n + 1]
        codes = Encoded(*(getattr(self.codes, field)[n : n + 1] for field in ("codes", "mean", "std")))
        return Users(index, self.embeddings[n : n + 1], codes)


class Dictionary(Protocol):
    """What steering reads from a dictionary: an SAE, or a probe's one direction (`ProbeDictionary`)."""

    n_latents: int

    def encode(self, embeddings: torch.Tensor) -> Encoded: ...

    def decoder_weight(self) -> torch.Tensor: ...


class Steerer:
    """Holds every user's and item's code for one (recommender, dictionary) pair and scores interventions.

    `labels` maps a label to its neurons: an intervention addressed by label ("Horror") applies
    to every neuron carrying it, since a concept is often spread over several neurons; one
    addressed by id applies to that neuron alone. `items` (a table with `concepts` and
    `popularity_percentile`) gives the concept directions that `concept` edits move; without it
    there are none. `item_ids` are the dataset's ids of the item indices (default: the indices
    themselves), which interventions use to name items.
    """

    def __init__(
        self,
        recommender: TwoTowerRecommender,
        sae: Dictionary,
        labels: Mapping[str, Sequence[int]] | None = None,
        item_ids: Sequence[int | str] | None = None,
        items: pd.DataFrame | None = None,
    ) -> None:
        self.recommender, self.sae = recommender, sae
        self.labels = {label: list(neurons) for label, neurons in (labels or {}).items()}
        self.item_ids = list(range(recommender.n_items) if item_ids is None else item_ids)
        self._item_index = {str(item): index for index, item in enumerate(self.item_ids)}
        with torch.no_grad():
            self.user_codes = sae.encode(recommender.user_embeddings())
            self.item_codes = sae.encode(recommender.item_embeddings())
            self.decoder = sae.decoder_weight().detach()  # (d, m)
            self.reference = {
                "user": self.user_codes.codes.max(0).values.clamp(min=0),
                "item": self.item_codes.codes.max(0).values.clamp(min=0),
            }
        self.directions = item_directions(self.item_codes.codes, items) if items is not None else {}
        self._item_tables = TensorCache()
        biases, popular = recommender.item_biases(), self.directions.get(POPULARITY)
        with torch.no_grad():
            fits = biases is not None and popular is not None
            self.bias_readout = BiasReadout.fit(self.item_codes.codes, biases, popular.neurons) if fits else None

    def seeing(self, items: pd.DataFrame) -> Steerer:
        """The same codes, with the concept directions of another item table and no labels.

        Labels were named from the full item tags; a study that hides some tags (docs/method.md
        §5) steers through directions of the tags it is shown, and neurons by id.
        """
        twin = copy.copy(self)
        twin.labels = {}
        twin.directions = item_directions(self.item_codes.codes, items)
        twin._item_tables = TensorCache()  # a concept may name another direction here
        return twin

    def with_direction(self, name: str, found: Direction) -> Steerer:
        """The same codes and labels, with one more direction that edits may name (PopSteer's, a study's own)."""
        twin = copy.copy(self)
        twin.directions = {**self.directions, name: found}
        twin._item_tables = TensorCache()
        return twin

    def neurons(self, ref: int | str) -> list[int]:
        """Resolve a neuron id or a label ("Horror") to neuron ids (`monorec.ids`: the one parser)."""
        return neuron_ref(ref, self.sae.n_latents, self.labels)

    def weighted(self, edit: Intervention) -> tuple[list[int], torch.Tensor]:
        """The neurons an edit moves and each one's weight (1 unless it names a concept direction)."""
        device = self.decoder.device
        if edit.concept is None:
            neurons = self.neurons(edit.neuron if edit.neuron is not None else "")
            return neurons, torch.ones(len(neurons), device=device)
        found = self.directions.get(edit.concept)
        if found is None:
            known = ", ".join(sorted(self.directions)[:MAX_NAMED]) or "none (the service has no item tags)"
            raise UnknownIdError(f"unknown concept {quote(edit.concept)}: directions exist for {known}")
        return list(found.neurons), torch.tensor(found.weights, device=device)

    def items(self, item_ids: Sequence[int | str]) -> list[int]:
        """Item indices of dataset item ids."""
        return [lookup(item, self._item_index, "item_id") for item in item_ids]

    def check(self, interventions: Sequence[Intervention]) -> None:
        """Resolve every neuron, concept and item up front, so that a bad request fails before any scoring."""
        for intervention in interventions:
            self.weighted(intervention)
            self.items(intervention.item_ids)

    def table_users(self, index: torch.Tensor) -> Users:
        """Users of the model's own table, by index."""
        codes = self.user_codes
        return Users(
            index,
            self.recommender.user_embeddings(index),
            Encoded(codes.codes[index], codes.mean[index], codes.std[index]),
        )

    def folded_users(self, embeddings: torch.Tensor) -> Users:
        """Users outside the table, by embeddings folded in from their histories (`recommenders.fold_in`)."""
        with torch.no_grad():
            return Users(None, embeddings, self.sae.encode(embeddings))

    def scores(
        self, users: torch.Tensor | Users, interventions: Sequence[Intervention] = (), keep_items: bool = False
    ) -> torch.Tensor:
        """(len(users), n_items) logits after `interventions` (the model's own scores without any).

        `users` are table indices, or `Users` (folded in from histories: `folded_users`).
        `keep_items`: keep the edited item table for the next call with the same item-side edits
        (a service, asked for the same edits again and again); a sweep over strengths does not.
        """
        model = self.recommender
        users = self.table_users(users) if isinstance(users, torch.Tensor) else users
        with torch.no_grad():
            user_emb = users.embeddings
            for edit in (edit for edit in interventions if edit.tower in ("user", "both")):
                (neurons, weights), strength = self.weighted(edit), edit.resolved_strength
                user_emb = user_emb + self._shift(users.codes, "user", neurons, weights, edit.op, strength)
            item_edits = tuple(edit for edit in interventions if edit.tower in ("item", "both"))
            items, bias_shift = (
                self._edited_items(item_edits, keep_items) if item_edits else (model.item_embeddings(), None)
            )
            scores = model.logits_all(users.index, user_emb, items)
            return scores if bias_shift is None else scores + bias_shift  # item biases enter logits additively

    def _edited_items(self, edits: tuple[Intervention, ...], keep: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The item table after these item-side edits, and the item biases' shift (None without a read-out).

        Each edit's change is computed from the original codes and added, so the order of edits
        does not matter. The same for every user: with `keep`, cached (`TensorCache`) per steerer.
        """
        return self._item_tables.get(edits, lambda: self._edit_items(edits)) if keep else self._edit_items(edits)

    def _edit_items(self, edits: tuple[Intervention, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
        model = self.recommender
        item_emb = model.item_embeddings().clone()
        bias_shift = None if self.bias_readout is None else torch.zeros(model.n_items, device=item_emb.device)
        for edit in edits:
            neurons, weights = self.weighted(edit)
            strength = item_side_strength(edit, edit.resolved_strength)
            rows = torch.as_tensor(self.items(edit.item_ids), dtype=torch.long) if edit.item_ids else None
            rows = torch.arange(model.n_items) if rows is None else rows
            rows = rows.to(item_emb.device)
            codes = self._item_rows(rows)
            item_emb[rows] += self._shift(codes, "item", neurons, weights, edit.op, strength)
            if bias_shift is not None:
                change = self._code_change(codes, "item", neurons, weights, edit.op, strength)
                bias_shift[rows] += change @ self.bias_readout.weights[neurons]
        return item_emb, bias_shift

    def contributions(self, user: int | Users, item: int) -> torch.Tensor:
        """(m,) each neuron's part in one (user, item) logit: the drop when it is removed from both codes."""
        model, m = self.recommender, self.sae.n_latents
        one = self.table_users(torch.tensor([user])) if isinstance(user, int) else user
        with torch.no_grad():
            items = torch.full((m,), item)
            users = None if one.index is None else one.index.expand(m)
            neurons = torch.arange(m)
            user_change = -torch.diag(one.codes.codes[0]) @ self.decoder.T * one.codes.std[0]
            item_change = -torch.diag(self.item_codes.codes[item]) @ self.decoder.T * self.item_codes.std[item]
            original = model.logits(
                None if users is None else users[:1], items[:1], one.embeddings, model.item_embeddings(items[:1])
            )
            ablated = model.logits(
                users, items, one.embeddings.expand(m, -1) + user_change, model.item_embeddings(items) + item_change
            )
            if self.bias_readout is not None:
                ablated = ablated - self.item_codes.codes[item, neurons] * self.bias_readout.weights
            return original - ablated

    def _item_rows(self, rows: torch.Tensor) -> Encoded:
        codes = self.item_codes
        return Encoded(codes.codes[rows], codes.mean[rows], codes.std[rows])

    def _code_change(
        self, codes: Encoded, tower: str, neurons: list[int], weights: torch.Tensor, op: Operation, strength: float
    ) -> torch.Tensor:
        """w_j (edit(z_j) - z_j) for the addressed neurons of these rows: the full edit where the weight is 1."""
        addressed = codes.codes[:, neurons]
        return (edited_codes(addressed, op, strength, self.reference[tower][neurons]) - addressed) * weights

    def _shift(
        self, codes: Encoded, tower: str, neurons: list[int], weights: torch.Tensor, op: Operation, strength: float
    ) -> torch.Tensor:
        """The embedding change of an edit: (z' - z) W_dec^T, de-normalised by each vector's std."""
        change = self._code_change(codes, tower, neurons, weights, op, strength)
        return (change @ self.decoder[:, neurons].T) * codes.std
