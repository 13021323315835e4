"""Every way to a frozen two-tower model, by `model.kind`: trained here, by `implicit`, or loaded.

    mf, ncf      monorec's BCE training (`training`), on this process (Ray Train: `pipeline`)
    lightgcn     monorec's BPR training of graph-propagated embeddings, then frozen (`lightgcn`)
    als, bpr     `implicit`'s solvers on the same training pairs (`implicit_models`)
    embeddings   factor tables read from files (`embedding_files`)
    module       your own towers, loaded from a Python path (`custom`)

Whatever the kind, the result is a `TwoTowerRecommender` in the dataset's index order, so the
SAE, interpretation, steering, bundles and the service never need to know where it came from.
"""

from __future__ import annotations

from pathlib import Path

from monorec.config import ExperimentConfig
from monorec.data.dataset import InteractionData
from monorec.data.split import Split
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.custom import load_custom_module
from monorec.recommenders.embedding_files import load_embedding_files
from monorec.recommenders.implicit_models import train_implicit
from monorec.recommenders.lightgcn import BPRTask
from monorec.recommenders.persistence import build_recommender
from monorec.recommenders.training import train_recommender
from monorec.training import TrainResult

LOADED_KINDS = ("embeddings", "module")  # read as they are: nothing is trained


def fit_recommender_kind(
    config: ExperimentConfig,
    data: InteractionData,
    split: Split,
    checkpoint_dir: Path | None = None,
    fingerprint: str = "",
) -> tuple[TwoTowerRecommender, TrainResult]:
    """The frozen model `config.model` describes, and how its training went (empty when loaded)."""
    kind = config.model.kind
    if kind in ("als", "bpr"):
        return train_implicit(config.model, config.train, split)
    if kind in LOADED_KINDS:
        load = load_embedding_files if kind == "embeddings" else load_custom_module
        return load(getattr(config.model, kind), data), TrainResult.from_history([], "cpu")
    model = build_recommender(config.model, data.n_users, data.n_items, config.train.seed)
    if kind == "lightgcn":
        result = train_recommender(
            model.attach(split), split, config.train, checkpoint_dir, fingerprint, task_type=BPRTask
        )
        return model.frozen(), result
    return model, train_recommender(model, split, config.train, checkpoint_dir, fingerprint)
