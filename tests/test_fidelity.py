"""RBO and Kendall tau against hand-computed values."""

import pytest
import torch

from monorec.evaluation.fidelity import kendall_tau_b, rbo


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
