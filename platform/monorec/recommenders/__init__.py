"""Two-tower recommenders: MF, NCF and LightGCN trained here, ALS and BPR, files, your own towers."""

from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.custom import ModuleRecommender, TwoTowerModule
from monorec.recommenders.factors import FactorModel
from monorec.recommenders.lightgcn import LightGCN
from monorec.recommenders.mf import MatrixFactorization
from monorec.recommenders.ncf import NeuralCF
from monorec.recommenders.persistence import (
    build_recommender,
    load_recommender,
    recommender_from_state,
    save_recommender,
)
from monorec.recommenders.sources import fit_recommender_kind
from monorec.recommenders.training import TrainResult, train_recommender

__all__ = [
    "FactorModel",
    "LightGCN",
    "MatrixFactorization",
    "ModuleRecommender",
    "NeuralCF",
    "TrainResult",
    "TwoTowerModule",
    "TwoTowerRecommender",
    "build_recommender",
    "fit_recommender_kind",
    "load_recommender",
    "recommender_from_state",
    "save_recommender",
    "train_recommender",
]
