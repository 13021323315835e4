"""Ranking metrics for recommenders and list fidelity for reconstructed (or edited) embeddings."""

from monorec.evaluation.ranking import evaluate_ranking, expected_ranks, metrics_from_ranks, popularity_scores

__all__ = ["evaluate_ranking", "expected_ranks", "metrics_from_ranks", "popularity_scores"]
