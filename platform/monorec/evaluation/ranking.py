"""Ranking metrics for held-out positives, vectorised on the device in tiles of users x all items.

A tile holds as many users as fit the configured memory budget (`eval.tile_mb`) given the
catalogue size and what the model spends per score (`rows_per_tile`), so evaluation never
holds a users x items matrix however large the catalogue; the metrics do not depend on it.

Full ranking: each held-out positive is ranked against every item the user has not trained on
(training positives are masked out, and so are items seen outside any sequence in a leave-last-out
split, `Split.seen_csr`; other held-out positives stay as competitors).
Sampled: the same metrics over a short candidate list, the user's held-out positives plus the
sampled test negatives, with K equal to the number of held-out positives.

Ties: a target's rank is its expected rank under random tie-breaking,
1 + #(higher scores) + #(other equal scores) / 2, so a model that scores everything alike gets
chance-level metrics instead of perfect (optimistic) or zero (pessimistic) ones.

Per user, with T held-out positives at ranks r_t among C candidates:
  HR@K   = share of the T positives ranked <= K (recall@K)
  NDCG@K = sum_{r_t <= K} 1/log2(r_t + 1) / sum_{j=1..min(K, T)} 1/log2(j + 1)
  MRR    = 1 / min_t r_t
  MPR    = mean_t 100 * (r_t - 1) / (C - 1)   (percentile rank in %, 0 = top, 50 = chance)
and every metric is averaged over test users.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from monorec.data.split import Split, csr_rows
from monorec.results import Ranking, RankingMetrics

ScoreFn = Callable[[torch.Tensor], torch.Tensor]  # user indices (B,) -> scores (B, n_items)
RANKING_BYTES_PER_CELL = 16  # a tile's masked scores plus the comparisons made on them
RANK_BLOCK_CELLS = 1 << 21  # comparisons made at once when ranking targets


def rows_per_tile(n_items: int, tile_mb: float, score_bytes: int = 4) -> int:
    """Users per tile so that one tile of scores (`score_bytes` per cell to compute) fits `tile_mb`."""
    return max(1, int(tile_mb * 2**20 // (n_items * (score_bytes + RANKING_BYTES_PER_CELL))))


def expected_ranks(candidate_scores: torch.Tensor, target_scores: torch.Tensor) -> torch.Tensor:
    """(B, T) expected 1-based ranks of each target score among (B, C) candidate scores.

    Each target must itself be among the candidates; masked candidates hold -inf. Rows are
    compared with all their targets a block at a time, sized so that the (rows, T, C)
    comparisons stay cache-sized: on CPU about 7x faster than one pass per target.
    """
    ranks = torch.empty(target_scores.shape, dtype=torch.float32, device=target_scores.device)
    rows = max(1, RANK_BLOCK_CELLS // max(target_scores.shape[1] * candidate_scores.shape[1], 1))
    for start in range(0, len(candidate_scores), rows):
        block = candidate_scores[start : start + rows, None, :]
        targets = target_scores[start : start + rows, :, None]
        higher = (block > targets).sum(-1, dtype=torch.int32)
        equal = (block == targets).sum(-1, dtype=torch.int32)
        ranks[start : start + rows] = 1.0 + higher + (equal - 1) / 2.0
    return ranks


def metrics_from_ranks(ranks: torch.Tensor, n_candidates: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Per-user `hr` (@K), `ndcg` (@K), `mrr` and `mpr` from (B, T) ranks and (B,) candidate counts."""
    hits = ranks <= k
    gains = torch.where(hits, 1.0 / torch.log2(ranks + 1.0), torch.zeros_like(ranks))
    ideal = (1.0 / torch.log2(torch.arange(2, min(k, ranks.shape[1]) + 2, device=ranks.device))).sum()
    percentile = 100.0 * (ranks - 1.0) / (n_candidates[:, None] - 1.0).clamp(min=1.0)
    return {
        "hr": hits.float().mean(1),
        "ndcg": gains.sum(1) / ideal,
        "mrr": 1.0 / ranks.min(1).values,
        "mpr": percentile.mean(1),
    }


def evaluate_ranking(
    score_fn: ScoreFn,
    split: Split,
    k: int = 10,
    tile_rows: int = 1024,
    device: torch.device | str = "cpu",
    users: np.ndarray | None = None,
) -> Ranking:
    """Full-ranking and sampled metrics of `score_fn` over the split's test users (or `users`, a subset).

    `tile_rows` users are scored at once (`rows_per_tile`); the result does not depend on it.
    """
    device = torch.device(device)
    rows = np.arange(len(split.test_users)) if users is None else _test_rows(split, users)
    indptr, train_items = (torch.as_tensor(a, device=device) for a in split.seen_csr())
    test_users = torch.as_tensor(split.test_users[rows], device=device)
    test_items = torch.as_tensor(split.test_items[rows], device=device)
    negatives = torch.as_tensor(split.test_negatives[rows], device=device)
    full: dict[str, list[torch.Tensor]] = {}
    sampled: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for start in range(0, len(test_users), tile_rows):
            users = test_users[start : start + tile_rows]
            targets = test_items[start : start + tile_rows]
            scores = score_fn(users).float()
            scores = mask_training_items(scores, users, indptr, train_items)
            target_scores = scores.gather(1, targets)
            n_candidates = split.n_items - (indptr[users + 1] - indptr[users])
            _accumulate(full, metrics_from_ranks(expected_ranks(scores, target_scores), n_candidates, k))
            candidates = torch.cat([targets, negatives[start : start + tile_rows]], dim=1)
            ranks = expected_ranks(scores.gather(1, candidates), target_scores)
            _accumulate(
                sampled, metrics_from_ranks(ranks, torch.full_like(n_candidates, candidates.shape[1]), targets.shape[1])
            )
    return Ranking(
        full=RankingMetrics(k=k, **_means(full)),
        sampled=RankingMetrics(k=split.test_items.shape[1], **_means(sampled)),
    )


def evaluated_users(split: Split, max_users: int | None, seed: int = 0) -> np.ndarray:
    """The test users ranking metrics are computed on: all of them, or a seeded sample of `max_users`."""
    if max_users is None or max_users >= len(split.test_users):
        return split.test_users
    return np.sort(np.random.default_rng(seed).choice(split.test_users, max_users, replace=False))


def _test_rows(split: Split, users: np.ndarray) -> np.ndarray:
    """Rows of `split.test_*` for the given users, each of which must be a test user."""
    rows = np.searchsorted(split.test_users, users)
    if len(users) and (rows.max() >= len(split.test_users) or (split.test_users[rows] != users).any()):
        raise ValueError("evaluate_ranking: every user must be one of the split's test users")
    return rows


def _accumulate(per_user: dict[str, list[torch.Tensor]], tile: dict[str, torch.Tensor]) -> None:
    for name, values in tile.items():
        per_user.setdefault(name, []).append(values.double().cpu())


def _means(per_user: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    """Means over every user at once, so that the tiling never changes a digit."""
    return {name: torch.cat(values).mean().item() for name, values in per_user.items()}


def mask_training_items(
    scores: torch.Tensor, users: torch.Tensor, indptr: torch.Tensor, train_items: torch.Tensor
) -> torch.Tensor:
    """Set each user's training positives to -inf, gathering their CSR rows without a Python loop."""
    rows, items = csr_rows(indptr, train_items, users)
    return scores.index_put((rows, items), torch.tensor(float("-inf"), device=scores.device))


def popularity_scores(split: Split, device: torch.device | str = "cpu") -> ScoreFn:
    """The non-personalised baseline: every user gets items ranked by training popularity."""
    counts = torch.as_tensor(split.item_counts(), dtype=torch.float32, device=device)
    return lambda users: counts.expand(len(users), -1)


def summarize(ranking: Ranking) -> str:
    """A one-line progress summary: `ndcg@10 0.1503  hr@10 0.0912  mrr 0.2870  mpr 7.0311`."""
    full = ranking.full
    return f"ndcg@{full.k} {full.ndcg:.4f}  hr@{full.k} {full.hr:.4f}  mrr {full.mrr:.4f}  mpr {full.mpr:.4f}"
