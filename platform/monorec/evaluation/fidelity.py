"""How faithfully reconstructed embeddings preserve the recommender's top-N lists.

For each user, the top-N list scored from the original embeddings is compared with the list
scored from the reconstructed (or edited) embeddings by the same frozen model, with the
user's training items excluded from both.

RBO is the extrapolated rank-biased overlap of Webber et al. (2010) for two depth-N lists:
    RBO = A_N p^N + (1 - p) sum_{d=1..N} A_d p^(d-1),   A_d = |S_:d & T_:d| / d
so identical lists score 1 and disjoint lists 0. Kendall's tau-b is computed over the union of
the two lists, each item scored by both models, so it sees re-orderings and swaps alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from monorec.data.split import Split
from monorec.evaluation.ranking import mask_training_items

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def rbo(first: torch.Tensor, second: torch.Tensor, p: float = 0.9) -> torch.Tensor:
    """(B,) extrapolated RBO of (B, N) ranked item lists."""
    depth = first.shape[1]
    same = (first[:, :, None] == second[:, None, :]).float()  # same[b, i, j]: first[i] is second[j]
    overlap = same.cumsum(1).cumsum(2).diagonal(dim1=1, dim2=2)  # |S_:d & T_:d| for d = 1..N
    d = torch.arange(1, depth + 1, device=first.device, dtype=torch.float32)
    agreement = overlap / d
    weights = (1 - p) * p ** (d - 1)
    return agreement[:, -1] * p**depth + (agreement * weights).sum(1)


def kendall_tau_b(x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B,) tau-b between paired scores x, y (B, L), over positions where `valid` is True."""
    dx = torch.sign(x[:, :, None] - x[:, None, :])
    dy = torch.sign(y[:, :, None] - y[:, None, :])
    pairs = (valid[:, :, None] & valid[:, None, :]).float().triu(diagonal=1)
    concordance = (dx * dy * pairs).sum((1, 2))
    untied_x = ((dx != 0).float() * pairs).sum((1, 2))
    untied_y = ((dy != 0).float() * pairs).sum((1, 2))
    return concordance / (untied_x * untied_y).sqrt().clamp(min=1e-12)


@dataclasses.dataclass(frozen=True)
class ListAgreement:
    """Mean agreement between two scorers' top-n lists over a set of users."""

    rbo: float
    kendall_tau: float


def list_fidelity(
    original: ScoreFn,
    reconstructed: ScoreFn,
    split: Split,
    users: torch.Tensor,
    n: int = 20,
    p: float = 0.9,
    chunk_size: int = 1024,
) -> ListAgreement:
    """Mean RBO@n and Kendall tau@n over `users` between two scorers' top-n lists."""
    indptr, train_items = (torch.as_tensor(a, device=users.device) for a in split.train_csr())
    rbo_total = tau_total = 0.0
    with torch.no_grad():
        for start in range(0, len(users), chunk_size):
            chunk = users[start : start + chunk_size]
            before = mask_training_items(original(chunk).float(), chunk, indptr, train_items)
            after = mask_training_items(reconstructed(chunk).float(), chunk, indptr, train_items)
            top_before, top_after = before.topk(n, dim=1).indices, after.topk(n, dim=1).indices
            union = torch.cat([top_before, top_after], dim=1)
            # Items of the second list already in the first are duplicates: leave them out.
            repeated = (top_after[:, :, None] == top_before[:, None, :]).any(2)
            valid = torch.cat([torch.ones_like(repeated), ~repeated], dim=1)
            tau = kendall_tau_b(before.gather(1, union), after.gather(1, union), valid)
            rbo_total += rbo(top_before, top_after, p).sum().item()
            tau_total += tau.sum().item()
    return ListAgreement(rbo=rbo_total / len(users), kendall_tau=tau_total / len(users))
