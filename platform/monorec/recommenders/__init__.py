"""Two-tower recommenders: MF, NCF and LightGCN trained here, ALS and BPR, files, your own towers.

Each kind's model and its `KindSpec` share a module (`mf.py`, `ncf.py`, `lightgcn.py`,
`implicit_models.py`, `embedding_files.py`, `custom.py`); its torch-free declaration is in
`monorec.kinds`, which says where the spec is (`registry.kind_spec`).
"""

from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.custom import ModuleRecommender, TwoTowerModule
from monorec.recommenders.factors import FactorModel
from monorec.recommenders.lightgcn import LightGCN
from monorec.recommenders.mf import MatrixFactorization
from monorec.recommenders.ncf import NeuralCF
from monorec.recommenders.persistence import load_recommender, save_recommender
from monorec.recommenders.registry import (
    KindSpec,
    build_recommender,
    fit_recommender_kind,
    kind_spec,
    recommender_from_state,
)
from monorec.recommenders.training import TrainResult, train_recommender

__all__ = [
    "FactorModel",
    "KindSpec",
    "LightGCN",
    "MatrixFactorization",
    "ModuleRecommender",
    "NeuralCF",
    "TrainResult",
    "TwoTowerModule",
    "TwoTowerRecommender",
    "build_recommender",
    "fit_recommender_kind",
    "kind_spec",
    "load_recommender",
    "recommender_from_state",
    "save_recommender",
    "train_recommender",
]
