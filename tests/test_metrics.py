"""Ranking metrics against values computed by hand on tiny cases."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from monorec.data.split import Split
from monorec.evaluation import evaluate_ranking, expected_ranks, metrics_from_ranks
from monorec.evaluation.fidelity import list_fidelity
from monorec.evaluation.ranking import rows_per_tile


def test_expected_ranks_with_ties():
    scores = torch.tensor([[5.0, 3.0, 3.0, 1.0, float("-inf")]])
    targets = torch.tensor([[5.0, 3.0, 1.0]])
    # 3.0 ties with one other item: expected rank 2.5; -inf (masked) never outranks anything.
    assert expected_ranks(scores, targets).tolist() == [[1.0, 2.5, 4.0]]
    constant = torch.zeros(1, 4)
    assert expected_ranks(constant, constant[:, :1]).tolist() == [[2.5]]


def test_metrics_from_ranks_by_hand():
    ranks = torch.tensor([[1.0, 3.0], [4.0, 12.0]])
    got = metrics_from_ranks(ranks, torch.tensor([21.0, 11.0]), k=3)
    idcg = 1 + 1 / math.log2(3)
    assert got["hr"].tolist() == [1.0, 0.0]
    assert got["ndcg"][0].item() == pytest.approx((1 + 1 / math.log2(4)) / idcg)
    assert got["ndcg"][1].item() == 0.0
    assert got["mrr"].tolist() == [1.0, 0.25]
    assert got["mpr"][0].item() == pytest.approx(100 * (0 / 20 + 2 / 20) / 2)
    assert got["mpr"][1].item() == pytest.approx(100 * (3 / 10 + 11 / 10) / 2)


def _tiny_split() -> Split:
    # 2 users, 6 items. User 0 trained on items 0 and 1; user 1 on item 5.
    return Split(
        n_users=2,
        n_items=6,
        train_users=np.array([0, 0, 1]),
        train_items=np.array([0, 1, 5]),
        test_users=np.array([0, 1]),
        test_items=np.array([[2], [0]]),
        test_negatives=np.array([[3], [4]]),
    )


def test_evaluate_masks_training_items_and_handles_ties():
    split = _tiny_split()
    scores = torch.tensor(
        [
            [9.0, 8.0, 1.0, 2.0, 1.0, 0.0],  # masked 0,1 -> target item 2 ties with item 4, behind item 3
            [7.0, 6.0, 6.0, 6.0, 9.0, 99.0],  # masked 5 -> target item 0 behind item 4 only
        ]
    )
    got = evaluate_ranking(lambda users: scores[users], split, k=2, tile_rows=1)
    rank_0, rank_1 = 2.5, 2.0  # user 0: 1 higher + 1 tie; user 1: 1 higher
    full, sampled = got.full, got.sampled
    assert full.k == 2 and full.hr == pytest.approx(0.5)
    assert full.ndcg == pytest.approx((0 + 1 / math.log2(rank_1 + 1)) / 2)
    assert full.mrr == pytest.approx((1 / rank_0 + 1 / rank_1) / 2)
    assert full.mpr == pytest.approx(100 * ((rank_0 - 1) / 3 + (rank_1 - 1) / 4) / 2)
    # Sampled (target vs its one negative): user 0's item 3 and user 1's item 4 both outscore the target.
    assert sampled.k == 1 and sampled.hr == pytest.approx(0.0)
    assert sampled.mrr == pytest.approx(0.5)


def test_perfect_and_reversed_scorers_bound_the_metrics(synthetic):
    _, _, split = synthetic
    oracle = torch.full((split.n_users, split.n_items), -1.0)
    # Distinct scores: held-out positives compete with each other, so equal scores would tie.
    oracle[torch.as_tensor(split.test_users)[:, None], torch.as_tensor(split.test_items)] = torch.arange(1.0, 6.0)
    perfect = evaluate_ranking(lambda users: oracle[users], split)
    assert perfect.full.ndcg == pytest.approx(1.0) and perfect.full.mrr == 1.0 and perfect.full.hr == 1.0
    assert perfect.sampled.ndcg == pytest.approx(1.0) and perfect.full.mpr < 1.0
    flipped = evaluate_ranking(lambda users: -oracle[users], split)
    assert flipped.full.hr == 0.0 and flipped.sampled.hr == 0.0 and flipped.full.mpr > 98.0


def test_tiled_evaluation_gives_exactly_the_untiled_numbers(synthetic):
    _, _, split = synthetic
    generator = torch.Generator().manual_seed(0)
    # Coarse scores: many ties, which tiles must break exactly as one pass does.
    scores = torch.randint(0, 5, (split.n_users, split.n_items), generator=generator).float()

    def scorer(users: torch.Tensor) -> torch.Tensor:
        return scores[users]

    whole = evaluate_ranking(scorer, split, tile_rows=split.n_users)
    assert evaluate_ranking(scorer, split, tile_rows=7) == whole
    users = torch.as_tensor(split.test_users[::3])
    reordered = torch.Generator().manual_seed(1)
    other = lambda u: scores[u] + torch.rand(scores[u].shape, generator=reordered)  # noqa: E731
    one_pass = list_fidelity(scorer, other, split, users, tile_rows=len(users))
    reordered.manual_seed(1)  # the same noise, drawn in tiles instead
    assert list_fidelity(scorer, other, split, users, tile_rows=5) == one_pass


def test_a_capped_evaluation_is_the_evaluation_of_a_seeded_sample_of_test_users(synthetic):
    from monorec.evaluation.ranking import evaluated_users

    _, _, split = synthetic
    sample = evaluated_users(split, 50)
    assert len(sample) == 50 and np.all(np.diff(sample) > 0) and np.isin(sample, split.test_users).all()
    assert np.array_equal(evaluated_users(split, 50), sample)  # seeded: the same users every run
    assert evaluated_users(split, None) is split.test_users
    assert evaluated_users(split, len(split.test_users) + 1) is split.test_users
    scores = torch.randn(split.n_users, split.n_items, generator=torch.Generator().manual_seed(0))
    capped = evaluate_ranking(lambda users: scores[users], split, users=sample)
    assert capped != evaluate_ranking(lambda users: scores[users], split)
    rows = np.searchsorted(split.test_users, sample)
    subset = dataclasses.replace(
        split, test_users=sample, test_items=split.test_items[rows], test_negatives=split.test_negatives[rows]
    )
    assert capped == evaluate_ranking(lambda users: scores[users], subset)


def test_a_run_with_eval_max_users_reports_the_sample_it_ranked(tmp_path):
    from pathlib import Path

    from monorec.config import ExperimentConfig, load_config
    from monorec.evaluation.ranking import evaluated_users
    from monorec.pipeline import load_and_split, run_recommender
    from monorec.recommenders import load_recommender

    root = Path(__file__).resolve().parents[1]
    config = load_config(ExperimentConfig, root / "configs" / "quick.yaml", ["train.epochs=2", "eval.max_users=100"])
    data, split = load_and_split(config)
    run = run_recommender(config, tmp_path, (data, split))
    assert run.dataset.n_evaluated_users == 100 < run.dataset.n_test_users
    model, _ = load_recommender(tmp_path)
    assert run.model == evaluate_ranking(model.rank_scores, split, users=evaluated_users(split, 100))


def test_rows_per_tile_follow_the_memory_budget():
    assert rows_per_tile(n_items=1000, tile_mb=1.0) == 2**20 // (1000 * 20)
    assert rows_per_tile(n_items=1000, tile_mb=1.0, score_bytes=900) < rows_per_tile(n_items=1000, tile_mb=1.0)
    assert rows_per_tile(n_items=10**9, tile_mb=1.0) == 1  # never zero
