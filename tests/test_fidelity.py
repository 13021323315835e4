"""RBO and Kendall tau against hand-computed values."""

import pytest
import torch

from monorec.evaluation.fidelity import kendall_tau_b, kendall_tau_ranks, rbo, rbo_truncated


def test_rbo_identical_disjoint_and_partial():
    lists = torch.tensor([[1, 2, 3, 4]])
    assert rbo(lists, lists).item() == pytest.approx(1.0)
    assert rbo(lists, torch.tensor([[5, 6, 7, 8]])).item() == pytest.approx(0.0)
    # Swapping the first two: A_1 = 0, A_2..A_4 = 1.
    p = 0.9
    expected = 1.0 * p**4 + (1 - p) * (0 + p + p**2 + p**3)
    assert rbo(lists, torch.tensor([[2, 1, 3, 4]]), p).item() == pytest.approx(expected)
    # Top-weighted: a change at the top costs more than the same change at the bottom.
    assert rbo(lists, torch.tensor([[2, 1, 3, 4]])).item() < rbo(lists, torch.tensor([[1, 2, 4, 3]])).item()


def test_kendall_tau_b_by_hand():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    valid = torch.ones(1, 4, dtype=torch.bool)
    assert kendall_tau_b(x, x, valid).item() == pytest.approx(1.0)
    assert kendall_tau_b(x, -x, valid).item() == pytest.approx(-1.0)
    # One discordant pair out of six: (5 - 1) / 6.
    assert kendall_tau_b(x, torch.tensor([[2.0, 1.0, 3.0, 4.0]]), valid).item() == pytest.approx(4 / 6)
    # A tie in y: tau-b = (C - D) / sqrt(n_x * n_y) = 5 / sqrt(6 * 5).
    assert kendall_tau_b(x, torch.tensor([[1.0, 1.0, 3.0, 4.0]]), valid).item() == pytest.approx(5 / 30**0.5)
    # Invalid positions are ignored.
    mask = torch.tensor([[True, True, True, False]])
    assert kendall_tau_b(x, torch.tensor([[1.0, 2.0, 3.0, -9.0]]), mask).item() == pytest.approx(1.0)


def test_truncated_rbo_is_the_papers_form():
    """(1 - p) sum_{d<=D} p^(d-1) A_d with no tail: identical depth-20 lists score 1 - 0.9^20 (about 0.88)."""
    lists = torch.arange(20)[None, :]
    assert rbo_truncated(lists, lists).item() == pytest.approx(1 - 0.9**20, abs=1e-6)
    assert rbo_truncated(lists, lists).item() == pytest.approx(0.8784, abs=1e-4)
    depth29 = torch.arange(29)[None, :]
    assert rbo_truncated(depth29, depth29).item() == pytest.approx(1 - 0.9**29, abs=1e-6)
    swapped = torch.tensor([[2, 1, 3, 4]])
    p = 0.9
    assert rbo_truncated(torch.tensor([[1, 2, 3, 4]]), swapped, p).item() == pytest.approx((1 - p) * (p + p**2 + p**3))
    # The extrapolated form adds the tail A_N p^N: it is the truncated one plus that term.
    first = torch.tensor([[1, 2, 3, 4]])
    assert rbo(first, swapped).item() == pytest.approx(rbo_truncated(first, swapped).item() + p**4)


def test_kendall_tau_of_ranks_matches_scipy_on_the_union():
    """The paper's variant: rank positions over the union, an item missing from a list ranked N + 1."""
    from scipy.stats import kendalltau

    first, second = [10, 11, 12, 13], [11, 10, 14, 12]
    union = [10, 11, 12, 13, 14]

    def ranks(ranked):
        return [ranked.index(i) + 1 if i in ranked else len(ranked) + 1 for i in union]

    expected = kendalltau(ranks(first), ranks(second)).statistic  # tau-b, scipy's default
    got = kendall_tau_ranks(torch.tensor([first]), torch.tensor([second])).item()
    assert got == pytest.approx(expected, abs=1e-6)
    assert kendall_tau_ranks(torch.tensor([first]), torch.tensor([first])).item() == pytest.approx(1.0)
