"""Two-tower recommenders (MF, NCF): building, training, saving and loading."""

from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.mf import MatrixFactorization
from monorec.recommenders.ncf import NeuralCF
from monorec.recommenders.persistence import (
    build_recommender,
    load_recommender,
    recommender_from_state,
    save_recommender,
)
from monorec.recommenders.training import TrainResult, train_recommender

__all__ = [
    "MatrixFactorization",
    "NeuralCF",
    "TrainResult",
    "TwoTowerRecommender",
    "build_recommender",
    "load_recommender",
    "recommender_from_state",
    "save_recommender",
    "train_recommender",
]
