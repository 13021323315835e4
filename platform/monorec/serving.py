"""What the HTTP service computes, without any web or Ray code: recommend, explain, profile.

Requests speak the dataset's original user and item ids; unknown ids and labels raise
`UnknownIdError` (the service turns it into a 404). With no intervention, recommendations are
the frozen recommender's own ranking (original embeddings); with interventions they come from
the SAE's edited codes, decoded and scored by the same frozen model (`monorec.interventions`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch

from monorec.bundle import Bundle
from monorec.errors import InvalidRequestError
from monorec.evaluation.ranking import mask_training_items
from monorec.explorer import explorer_payload
from monorec.ids import lookup
from monorec.interventions import Calibrator, Intervention, Steerer, Target

NON_FINITE = "these interventions push scores out of the finite range: use smaller strengths"


@dataclasses.dataclass(frozen=True)
class RankRequest:
    """One top-k request for a user index: no interventions means the frozen model's own ranking."""

    user: int
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
        # At start: no request waits for it, none computes it twice. The concept directions an edit may name too.
        self.explorer_data = _explorer_data(bundle) | {"directions": sorted(self.steerer.directions)}

    def user_index(self, user_id: int | str) -> int:
        return lookup(user_id, self._user_index, "user_id")

    def item_index(self, item_id: int | str) -> int:
        return lookup(item_id, self._item_index, "item_id")

    def scores(self, users: Sequence[int], interventions: Sequence[Intervention] = ()) -> torch.Tensor:
        """(len(users), n_items) scores: the model's own without interventions, steered ones with them."""
        index = torch.as_tensor(list(users), dtype=torch.long)
        with torch.no_grad():
            if interventions:
                return self.steerer.scores(index, list(interventions))
            return self.bundle.recommender.rank_scores(index)

    def resolve(self, interventions: Sequence[Intervention]) -> tuple[tuple[Intervention, ...], list[dict]]:
        """Interventions at their strengths, calibrating those given a target (422 if unreachable).

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

    def user_effect(self, user: int, target: Target, applied: tuple[Intervention, ...]) -> float:
        """A target's measure for one user's list after all the applied interventions."""
        users = torch.tensor([user])
        scores = self.calibrator.mask(self.steerer.scores(users, list(applied)), users)
        return self.calibrator.effect_fn(target)(scores).item()

    def rank_many(self, requests: Sequence[RankRequest]) -> list[list[dict] | InvalidRequestError]:
        """Top-k lists for concurrent requests: those with the same interventions (usually none) share
        one scoring, masking and top-k call, then each list is cut to its own k.

        A request whose interventions push scores out of the finite range gets an
        InvalidRequestError in its place (HTTP 422): the others in the batch are unaffected.
        """
        groups: dict[tuple[Intervention, ...], list[int]] = {}
        for position, request in enumerate(requests):
            groups.setdefault(request.interventions, []).append(position)
        ranked: list[list[dict] | InvalidRequestError] = [[] for _ in requests]
        for interventions, positions in groups.items():
            group = [requests[p] for p in positions]
            users = [request.user for request in group]
            scores = self.scores(users, interventions).float()
            broken = torch.isnan(scores).any(1) | torch.isposinf(scores).any(1)
            exclude = torch.tensor([request.exclude_seen for request in group])
            if exclude.any():
                masked = mask_training_items(
                    scores, torch.as_tensor(users), self.bundle.train_indptr, self.bundle.train_items
                )
                scores = torch.where(exclude[:, None], masked, scores)
            values, items = scores.masked_fill(torch.isnan(scores), -math.inf).topk(
                min(max(r.k for r in group), scores.shape[1]), dim=1
            )
            for row, (p, request) in enumerate(zip(positions, group)):
                ranked[p] = (
                    InvalidRequestError(NON_FINITE)
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

    def explain(self, user_id: int | str, item_id: int | str, top: int = 5) -> list[dict]:
        """The neurons that contribute most to the user's score of the item: the drop when each is removed."""
        contribution = self.steerer.contributions(self.user_index(user_id), self.item_index(item_id)).numpy()
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


def _explorer_data(bundle: Bundle) -> dict:
    """The explorer's neuron data (`monorec.explorer`) for this bundle."""
    title = f"{bundle.config.data.dataset} {bundle.recommender.kind} · {bundle.sae.n_latents} neurons"
    encode = lambda embeddings: bundle.sae.encode(embeddings).codes  # noqa: E731
    return explorer_payload(bundle.neurons, encode, bundle.recommender.item_embeddings(), bundle.items, title)


def _plain(value: object) -> object:
    """numpy scalars -> Python, for JSON."""
    return value.item() if hasattr(value, "item") else value
