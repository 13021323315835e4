"""Evaluation of recommenders (ranking metrics) and, later, of SAEs (fidelity, interpretability)."""

from monorec.evaluation.ranking import evaluate_ranking, expected_ranks, metrics_from_ranks, popularity_scores

__all__ = ["evaluate_ranking", "expected_ranks", "metrics_from_ranks", "popularity_scores"]
