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
from monorec.errors import UnknownIdError
from monorec.evaluation.ranking import mask_training_items
from monorec.interventions import Intervention, Steerer
from monorec.sae.model import Encoded


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
        self.steerer = Steerer(bundle.recommender, bundle.sae, bundle.labels, self.item_ids)
        self.item_names = bundle.items["name"].to_numpy()
        self._item_index = {str(i): n for n, i in enumerate(self.item_ids)}
        self._user_index = {str(u): n for n, u in enumerate(bundle.user_ids)}
        self.neurons = bundle.neurons

    def user_index(self, user_id: int | str) -> int:
        try:
            return self._user_index[str(user_id)]
        except KeyError:
            raise UnknownIdError(f"unknown user_id {user_id!r}") from None

    def item_index(self, item_id: int | str) -> int:
        try:
            return self._item_index[str(item_id)]
        except KeyError:
            raise UnknownIdError(f"unknown item_id {item_id!r}") from None

    def scores(self, users: Sequence[int], interventions: Sequence[Intervention] = ()) -> torch.Tensor:
        """(len(users), n_items) scores: the model's own without interventions, steered ones with them."""
        index = torch.as_tensor(list(users), dtype=torch.long)
        with torch.no_grad():
            if interventions:
                return self.steerer.scores(index, list(interventions))
            return self.bundle.recommender.rank_scores(index)

    def rank_many(self, requests: Sequence[RankRequest]) -> list[list[dict]]:
        """Top-k lists for concurrent requests: those with the same interventions (usually none) share
        one scoring, masking and top-k call, then each list is cut to its own k."""
        groups: dict[tuple[Intervention, ...], list[int]] = {}
        for position, request in enumerate(requests):
            groups.setdefault(request.interventions, []).append(position)
        ranked: list[list[dict]] = [[] for _ in requests]
        for interventions, positions in groups.items():
            group = [requests[p] for p in positions]
            users = [request.user for request in group]
            scores = self.scores(users, interventions).float()
            exclude = torch.tensor([request.exclude_seen for request in group])
            if exclude.any():
                masked = mask_training_items(
                    scores, torch.as_tensor(users), self.bundle.train_indptr, self.bundle.train_items
                )
                scores = torch.where(exclude[:, None], masked, scores)
            values, items = scores.topk(min(max(request.k for request in group), scores.shape[1]), dim=1)
            for p, request, row_items, row_values in zip(positions, group, items.tolist(), values.tolist()):
                ranked[p] = self._listing(row_items[: request.k], row_values[: request.k])
        return ranked

    def _listing(self, items: Sequence[int], scores: Sequence[float]) -> list[dict]:
        """Ranked item dicts; -inf (masked) scores end the list."""
        return [
            {"item_id": self.item_ids[i], "name": self.item_names[i], "score": v, "rank": r + 1}
            for r, (i, v) in enumerate(zip(items, scores))
            if math.isfinite(v)
        ]

    def explain(self, user_id: int | str, item_id: int | str, top: int = 5) -> list[dict]:
        """Neurons that contribute most to the (reconstructed) score: the drop when each is zeroed."""
        user, item = self.user_index(user_id), self.item_index(item_id)
        sae, model = self.bundle.sae, self.bundle.recommender
        with torch.no_grad():
            users = self.steerer.user_codes
            items = self.steerer.item_codes
            m = sae.n_latents
            user_codes = users.codes[user].repeat(m + 1, 1)
            item_codes = items.codes[item].repeat(m + 1, 1)
            ablate = torch.arange(m)
            user_codes[ablate, ablate] = 0
            item_codes[ablate, ablate] = 0
            user_hat = sae.decode(
                Encoded(user_codes, users.mean[user].expand(m + 1, 1), users.std[user].expand(m + 1, 1))
            )
            item_hat = sae.decode(
                Encoded(item_codes, items.mean[item].expand(m + 1, 1), items.std[item].expand(m + 1, 1))
            )
            index_u = torch.full((m + 1,), user, dtype=torch.long)
            index_i = torch.full((m + 1,), item, dtype=torch.long)
            logits = model.logits(index_u, index_i, user_hat, item_hat)
        contribution = (logits[m] - logits[:m]).numpy()
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


def _plain(value: object) -> object:
    """numpy scalars -> Python, for JSON."""
    return value.item() if hasattr(value, "item") else value
