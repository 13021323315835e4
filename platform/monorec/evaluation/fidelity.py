"""How faithfully reconstructed embeddings preserve the recommender's top-N lists (docs/method.md §4).

For each user, the top-N list scored from the original embeddings is compared with the list
scored from the reconstructed (or edited) embeddings by the same frozen model, with the
user's training items excluded from both (`interpret.fidelity_mask`: or every known positive,
as the MF notebook does, or nothing, as the NCF notebook does). Two families of measures, named apart everywhere:

- The paper's (its notebooks): truncated RBO, (1 - p) sum_{d=1..D} p^(d-1) A_d with no tail term
  (identical depth-D lists score 1 - p^D, about 0.95 at D = 29), and Kendall's tau-b of the
  two lists' rank positions over their union, an item missing from a list ranked D + 1.
- Ours: extrapolated RBO (Webber et al. 2010), A_N p^N + (1 - p) sum_{d=1..N} p^(d-1) A_d, where
  identical lists score 1, and Kendall's tau-b of the two models' scores over the union.

A_d = |S_:d ∩ T_:d| / d is the overlap of the two lists' first d items.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from monorec.config.sae import FidelityMask
from monorec.data.split import Split
from monorec.evaluation.ranking import mask_training_items

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def _agreement(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """(B, N) A_d for d = 1..N of (B, N) ranked item lists."""
    same = (first[:, :, None] == second[:, None, :]).float()  # same[b, i, j]: first[i] is second[j]
    overlap = same.cumsum(1).cumsum(2).diagonal(dim1=1, dim2=2)  # |S_:d ∩ T_:d|
    depth = torch.arange(1, first.shape[1] + 1, device=first.device, dtype=torch.float32)
    return overlap / depth


def rbo(first: torch.Tensor, second: torch.Tensor, p: float = 0.9) -> torch.Tensor:
    """(B,) extrapolated RBO of (B, N) ranked item lists: identical lists score 1."""
    agreement = _agreement(first, second)
    depth = agreement.shape[1]
    weights = (1 - p) * p ** torch.arange(depth, device=first.device, dtype=torch.float32)
    return agreement[:, -1] * p**depth + (agreement * weights).sum(1)


def rbo_truncated(first: torch.Tensor, second: torch.Tensor, p: float = 0.9) -> torch.Tensor:
    """(B,) truncated RBO (the paper's notebooks): no tail term, identical lists score 1 - p^N."""
    agreement = _agreement(first, second)
    weights = (1 - p) * p ** torch.arange(agreement.shape[1], device=first.device, dtype=torch.float32)
    return (agreement * weights).sum(1)


def kendall_tau_b(x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B,) tau-b between paired values x, y (B, L), over positions where `valid` is True."""
    dx = torch.sign(x[:, :, None] - x[:, None, :])
    dy = torch.sign(y[:, :, None] - y[:, None, :])
    pairs = (valid[:, :, None] & valid[:, None, :]).float().triu(diagonal=1)
    concordance = (dx * dy * pairs).sum((1, 2))
    untied_x = ((dx != 0).float() * pairs).sum((1, 2))
    untied_y = ((dy != 0).float() * pairs).sum((1, 2))
    return concordance / (untied_x * untied_y).sqrt().clamp(min=1e-12)


def _union(first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2N) the two lists' items side by side, and which positions are not duplicates."""
    repeated = (second[:, :, None] == first[:, None, :]).any(2)  # second's items already in first
    return torch.cat([first, second], dim=1), torch.cat([torch.ones_like(repeated), ~repeated], dim=1)


def kendall_tau_ranks(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """(B,) the paper's Kendall tau: tau-b of rank positions over the union, missing items ranked N + 1."""
    depth = first.shape[1]
    union, valid = _union(first, second)

    def ranks(ranked: torch.Tensor) -> torch.Tensor:
        found = union[:, :, None] == ranked[:, None, :]  # (B, 2N, N)
        position = found.float().argmax(2) + 1.0
        return torch.where(found.any(2), position, torch.full_like(position, depth + 1.0))

    return kendall_tau_b(-ranks(first), -ranks(second), valid)


@dataclasses.dataclass(frozen=True)
class ListAgreement:
    """Mean agreement between two scorers' lists over a set of users, both families of measures."""

    rbo_truncated: float  # the paper's, at its depth
    kendall_tau_ranks: float  # the paper's, at its depth
    rbo_extrapolated: float  # ours, at our depth
    kendall_tau_scores: float  # ours, at our depth


def masked_items(split: Split, mask: FidelityMask) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, items) of what leaves each user's lists before they are compared."""
    if mask == "train":
        return split.seen_csr()
    if mask == "positives":
        return split.positives_csr()
    return np.zeros(split.n_users + 1, dtype=np.int64), np.empty(0, dtype=np.int64)


def list_fidelity(
    original: ScoreFn,
    reconstructed: ScoreFn,
    split: Split,
    users: torch.Tensor,
    depth: int = 20,
    paper_depth: int = 29,
    p: float = 0.9,
    tile_rows: int = 1024,
    mask: FidelityMask = "train",
) -> ListAgreement:
    """Mean list agreement over `users`: the paper's measures at `paper_depth`, ours at `depth`.

    Users are scored `tile_rows` at a time (two score tiles are held: before and after).
    """
    indptr, train_items = (torch.as_tensor(a, device=users.device) for a in masked_items(split, mask))
    per_user: list[torch.Tensor] = []
    longest = min(max(depth, paper_depth), split.n_items)
    with torch.no_grad():
        for start in range(0, len(users), tile_rows):
            chunk = users[start : start + tile_rows]
            before = mask_training_items(original(chunk).float(), chunk, indptr, train_items)
            after = mask_training_items(reconstructed(chunk).float(), chunk, indptr, train_items)
            top_before, top_after = before.topk(longest, dim=1).indices, after.topk(longest, dim=1).indices
            ours_before, ours_after = top_before[:, :depth], top_after[:, :depth]
            union, valid = _union(ours_before, ours_after)
            paper_before, paper_after = top_before[:, :paper_depth], top_after[:, :paper_depth]
            measures = [
                rbo_truncated(paper_before, paper_after, p),
                kendall_tau_ranks(paper_before, paper_after),
                rbo(ours_before, ours_after, p),
                kendall_tau_b(before.gather(1, union), after.gather(1, union), valid),
            ]
            per_user.append(torch.stack(measures, dim=1).double().cpu())
    if not per_user:
        return ListAgreement(0.0, 0.0, 0.0, 0.0)
    return ListAgreement(*torch.cat(per_user).mean(0).tolist())  # one mean: the tiling never changes a digit
