"""What the HTTP service computes, without any web or Ray code: recommend, explain, profile.

Requests speak the dataset's original user and item ids; unknown ids and labels raise
`UnknownIdError` (the service turns it into a 404). With no intervention, recommendations are
the frozen recommender's own ranking (original embeddings); with interventions they come from
the SAE's edited codes, decoded and scored by the same frozen model (`monorec.interventions`).
A user the model never saw is given by their history instead of an id: their embedding comes
the kind's own way (`KindSpec.fold_in`), fitted against the frozen model
(`monorec.recommenders.fold_in`) or by one forward pass of a user tower that is a function of
the history (`monorec.recommenders.history`), and is steered, calibrated and explained like a
known user's; the history's items leave the list.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch

from monorec.bundle import Bundle
from monorec.errors import ConflictError, InvalidRequestError, UnknownIdError
from monorec.evaluation.ranking import mask_training_items
from monorec.explorer import explorer_payload
from monorec.ids import MAX_DIGITS, lookup, quote
from monorec.interventions import Calibrator, Intervention, Steerer, Target
from monorec.interventions.steering import Users
from monorec.kinds import kind_traits
from monorec.recommenders.fold_in import fold_in_many
from monorec.recommenders.registry import fold_in_for
from monorec.sae.model import Encoded

NON_FINITE = "these interventions push scores out of the finite range: use smaller strengths"


MAX_HISTORY = 1000
UNKNOWN_NAMED = 10  # unknown history items an error names


@dataclasses.dataclass(frozen=True)
class Folded:
    """A user outside the model's table: their history (item indices, no duplicates) and fitted embedding."""

    history: tuple[int, ...]
    users: Users  # one row


@dataclasses.dataclass(frozen=True)
class RankRequest:
    """One top-k request for a user index or a folded-in user: no interventions means the model's own ranking."""

    user: int | Folded
    interventions: tuple[Intervention, ...] = ()
    k: int = 10
    exclude_seen: bool = True


class RecommenderService:
    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.item_ids = [_plain(i) for i in bundle.items["item_id"]]
        self.steerer = Steerer(bundle.recommender, bundle.sae, bundle.labels, self.item_ids, bundle.items)
        indptr, items = bundle.train_indptr.numpy(), bundle.train_items.numpy()
        validation = bundle.validation_users.numpy()
        self.calibrator = Calibrator.build(self.steerer, indptr, items, validation, bundle.items)
        self.item_names = bundle.items["name"].to_numpy()
        self._item_index = {str(i): n for n, i in enumerate(self.item_ids)}
        self._user_index = {str(u): n for n, u in enumerate(bundle.user_ids)}
        self.neurons = bundle.neurons
        self._fold_in = fold_in_for(bundle.recommender.kind, bundle.config.train)
        self.sequential = kind_traits(bundle.recommender.kind).sequential  # a history is read in its order
        self.quick_fold_in = self._fold_in.quick
        # At start: no request waits for it, none computes it twice. The concept directions an edit may name too.
        self.explorer_data = _explorer_data(bundle) | {"directions": sorted(self.steerer.directions)}

    def user_index(self, user_id: int | str) -> int:
        return lookup(user_id, self._user_index, "user_id")

    def fold_in(self, history: Sequence[int | str]) -> Folded:
        """A user the model never saw, from their history (dataset item ids, oldest first)."""
        return self.fold_in_many([self.history_indices(history)])[0]

    def history_indices(self, history: Sequence[int | str]) -> tuple[int, ...]:
        """A history's item indices, checked: 1 to `MAX_HISTORY` items, every unknown one named (up to
        `UNKNOWN_NAMED`, each quoted short) in one 404."""
        if not 1 <= len(history) <= MAX_HISTORY:
            raise InvalidRequestError(f"a history holds 1 to {MAX_HISTORY} items, got {len(history)}")
        indices, unknown = [], []
        for item in history:
            if (position := self._item_index.get(_exact_text(item))) is None:  # else the careful parse
                try:
                    position = self.item_index(item)
                except UnknownIdError:
                    unknown.append(item)
                    continue
            indices.append(position)
        if unknown:
            named = ", ".join(quote(item) for item in unknown[:UNKNOWN_NAMED])
            more = f" and {len(unknown) - UNKNOWN_NAMED} more" if len(unknown) > UNKNOWN_NAMED else ""
            raise UnknownIdError(f"unknown item_id in the history: {named}{more}")
        return tuple(indices)

    def fold_in_many(self, histories: Sequence[tuple[int, ...]]) -> list[Folded]:
        """Users the model never saw, from checked histories (`history_indices`), placed together.

        A sequential model reads each history as it is, in its order, repeats included; any other
        kind fits the user to the set of its items (repeats count once). One call of the kind's
        fold-in for them all: a history tower encodes the batch in one forward pass.
        """
        unique = [tuple(dict.fromkeys(history)) for history in histories]
        read = histories if self.sequential else unique
        with torch.no_grad():
            tensors = [torch.as_tensor(history, dtype=torch.long) for history in read]
            users = self.steerer.folded_users(fold_in_many(self._fold_in, self.bundle.recommender, tensors))
        return [Folded(seen, users.row(n)) for n, seen in enumerate(unique)]

    def item_index(self, item_id: int | str) -> int:
        return lookup(item_id, self._item_index, "item_id")

    def scores(self, users: Sequence[int | Folded], interventions: Sequence[Intervention] = ()) -> torch.Tensor:
        """(len(users), n_items) scores: the model's own without interventions, steered ones with them."""
        table = [n for n, user in enumerate(users) if not isinstance(user, Folded)]
        folded = [n for n, user in enumerate(users) if isinstance(user, Folded)]
        with torch.no_grad():
            parts = []
            if table:
                index = torch.as_tensor([users[n] for n in table], dtype=torch.long)
                parts.append(self.steerer.scores(index, list(interventions), keep_items=True))
            if folded:
                rows = [users[n].users for n in folded]
                stacked = Users(None, torch.cat([r.embeddings for r in rows]), _stack_codes([r.codes for r in rows]))
                parts.append(self.steerer.scores(stacked, list(interventions), keep_items=True))
            order = torch.as_tensor(table + folded).argsort()
            return torch.cat(parts)[order]

    def masked(self, users: Sequence[int | Folded], scores: torch.Tensor) -> torch.Tensor:
        """`scores` with each user's seen items at -inf: a table user's training items, a folded user's history."""
        masked = scores.clone()
        table = [n for n, user in enumerate(users) if not isinstance(user, Folded)]
        if table:
            index = torch.as_tensor([users[n] for n in table])
            rows = mask_training_items(scores[table], index, self.bundle.train_indptr, self.bundle.train_items)
            masked[table] = rows
        for n, user in enumerate(users):
            if isinstance(user, Folded):
                masked[n, list(user.history)] = -math.inf
        return masked

    def resolved_already(self, interventions: Sequence[Intervention]) -> bool:
        """Whether `resolve` costs nothing: no target, or every target calibrated before (cached)."""
        return all(self.calibrator.known(intervention) for intervention in interventions)

    def resolve(self, interventions: Sequence[Intervention]) -> tuple[tuple[Intervention, ...], list[dict]]:
        """Interventions at their strengths, calibrating those given a target (409 if unreachable).

        Also returns, per calibrated intervention, its target, the strength found and the effect
        measured on the validation users.
        """
        self.steerer.check(interventions)
        resolved, notes = [], []
        for intervention in interventions:
            applied, found = self.calibrator.resolve(intervention)
            resolved.append(applied)
            if found is not None:
                note = {"neuron": intervention.neuron, "concept": intervention.concept, "target": intervention.target}
                note |= {"strength": found.strength}
                notes.append({**note, "validation_effect": found.effect, "validation_users": found.users})
        return tuple(resolved), notes

    def user_effect(self, user: int | Folded, target: Target, applied: tuple[Intervention, ...]) -> float:
        """A target's measure for one user's list (seen items masked) after all the applied interventions."""
        scores = self.masked([user], self.scores([user], applied).float())
        return self.calibrator.effect_fn(target)(scores).item()

    def rank_many(self, requests: Sequence[RankRequest]) -> list[list[dict] | ConflictError]:
        """Top-k lists for concurrent requests: those with the same interventions (usually none) share
        one scoring, masking and top-k call, then each list is cut to its own k.

        A request whose interventions push scores out of the finite range gets a ConflictError in
        its place (HTTP 409): the others in the batch are unaffected.
        """
        groups: dict[tuple[Intervention, ...], list[int]] = {}
        for position, request in enumerate(requests):
            groups.setdefault(request.interventions, []).append(position)
        ranked: list[list[dict] | ConflictError] = [[] for _ in requests]
        for interventions, positions in groups.items():
            group = [requests[p] for p in positions]
            users = [request.user for request in group]
            scores = self.scores(users, interventions).float()
            broken = torch.isnan(scores).any(1) | torch.isposinf(scores).any(1)
            exclude = torch.tensor([request.exclude_seen for request in group])
            if exclude.any():
                scores = torch.where(exclude[:, None], self.masked(users, scores), scores)
            values, items = scores.masked_fill(torch.isnan(scores), -math.inf).topk(
                min(max(r.k for r in group), scores.shape[1]), dim=1
            )
            for row, (p, request) in enumerate(zip(positions, group)):
                ranked[p] = (
                    ConflictError(NON_FINITE)
                    if broken[row]
                    else self._listing(items[row, : request.k].tolist(), values[row, : request.k].tolist())
                )
        return ranked

    def _listing(self, items: Sequence[int], scores: Sequence[float]) -> list[dict]:
        """Ranked item dicts; -inf (masked, or pushed below the finite range) scores end the list."""
        return [
            {"item_id": self.item_ids[i], "name": self.item_names[i], "score": v, "rank": r + 1}
            for r, (i, v) in enumerate(zip(items, scores))
            if math.isfinite(v)
        ]

    def explain(self, user: int | Folded, item_id: int | str, top: int = 5) -> list[dict]:
        """The neurons that contribute most to the user's score of the item: the drop when each is removed."""
        who = user if isinstance(user, int) else user.users
        contribution = self.steerer.contributions(who, self.item_index(item_id)).numpy()
        order = np.argsort(-np.abs(contribution))[:top]
        return [{**self.neuron_info(int(j)), "contribution": float(contribution[j])} for j in order]

    def profile(self, user_id: int | str, top: int = 5) -> list[dict]:
        """The user's most active labelled neurons."""
        codes = self.steerer.user_codes.codes[self.user_index(user_id)].numpy()
        labelled = self.neurons["label"].notna().to_numpy()
        order = [j for j in np.argsort(-codes) if labelled[j] and codes[j] > 0][:top]
        return [{**self.neuron_info(int(j)), "activation": float(codes[j])} for j in order]

    def neuron_info(self, neuron: int) -> dict:
        row = self.neurons.iloc[neuron]
        label = row["label"] if isinstance(row["label"], str) else None
        return {"neuron": neuron, "label": label, "confidence": float(row["confidence"])}

    def describe_neuron(self, ref: int | str) -> list[dict]:
        """Every neuron a ref (id or label) names, with frequency and top items."""
        return [
            {
                **self.neuron_info(j),
                "frequency": float(self.neurons.iloc[j]["frequency"]),
                "top_items": [n for n in str(self.neurons.iloc[j]["top_items"]).split("; ") if n and n != "nan"],
            }
            for j in self.steerer.neurons(ref)
        ]


def _exact_text(item: int | str) -> str | None:
    """An id's text when it is a plain string or a small plain int: the usual history item, looked up
    directly (anything else, or a miss, goes through `monorec.ids.lookup`)."""
    if type(item) is str:
        return item
    return str(item) if type(item) is int and abs(item) < 10**MAX_DIGITS else None


def _explorer_data(bundle: Bundle) -> dict:
    """The explorer's neuron data (`monorec.explorer`) for this bundle."""
    title = f"{bundle.config.data.dataset} {bundle.recommender.kind} · {bundle.sae.n_latents} neurons"
    encode = lambda embeddings: bundle.sae.encode(embeddings).codes  # noqa: E731
    return explorer_payload(bundle.neurons, encode, bundle.recommender.item_embeddings(), bundle.items, title)


def _stack_codes(codes: list[Encoded]) -> Encoded:
    return Encoded(*(torch.cat([getattr(c, field) for c in codes]) for field in ("codes", "mean", "std")))


def _plain(value: object) -> object:
    """numpy scalars -> Python, for JSON."""
    return value.item() if hasattr(value, "item") else value
