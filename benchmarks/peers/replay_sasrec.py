"""RePlay's SASRec on monorec's split: run by `benchmarks/bench_sequential.py` in RePlay's own virtual environment.

    <venv>/bin/python benchmarks/peers/replay_sasrec.py FOLDER

FOLDER holds what the benchmark wrote: `train.parquet` (user, items: each user's training
sequence, without the validation item), `validation.parquet` (user, items, item: a tested user's
sequence and their validation item), `test.parquet` (user, items: the sequence the test item
follows, validation item included) and `settings.json`. Written back: `users.npy` (one vector per
row of test.parquet), `items.npy` (one per item index) and `result.json` (training seconds, epochs,
best epoch). Only RePlay's own API trains (its SASRec, cross-entropy over every item, its
validation callback on NDCG@10 with seen items removed, Lightning's early stopping on it); monorec
scores the vectors with its own evaluator, so both models are measured by one ruler. This file
imports nothing of monorec: RePlay pins pandas, pyarrow and scikit-learn below monorec's.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

import lightning
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping
from replay.data import FeatureHint, FeatureSource, FeatureType
from replay.data.nn import PandasSequentialDataset, TensorFeatureInfo, TensorFeatureSource, TensorSchema
from replay.models.nn.optimizer_utils import FatOptimizerFactory
from replay.models.nn.sequential.callbacks import ValidationMetricsCallback
from replay.models.nn.sequential.postprocessors import RemoveSeenItems
from replay.models.nn.sequential.sasrec import (
    SasRec,
    SasRecPredictionDataset,
    SasRecTrainingDataset,
    SasRecValidationDataset,
)
from torch.utils.data import DataLoader

METRIC = "ndcg@10"


class KeepBest(lightning.Callback):
    """The weights of the epoch with the best validation NDCG@10, kept in memory (no pickled checkpoint)."""

    def __init__(self) -> None:
        self.score, self.state = float("-inf"), None

    def on_validation_end(self, trainer: lightning.Trainer, module: lightning.LightningModule) -> None:
        score = trainer.callback_metrics.get(METRIC)
        if score is not None and float(score) > self.score:
            self.score, self.state = float(score), copy.deepcopy(module.state_dict())


def sequences(schema: TensorSchema, frame: pd.DataFrame, column: str = "items") -> PandasSequentialDataset:
    data = pd.DataFrame({"user": frame["user"].to_numpy(), "item_seq": frame[column].to_list()})
    return PandasSequentialDataset(schema, "user", "item_seq", data)


def main(folder: Path) -> None:
    settings = json.loads((folder / "settings.json").read_text())
    torch.manual_seed(settings["seed"])
    n_items, max_len = settings["n_items"], settings["max_len"]
    schema = TensorSchema(
        TensorFeatureInfo(
            name="item_seq",
            is_seq=True,
            feature_type=FeatureType.CATEGORICAL,
            feature_sources=[TensorFeatureSource(FeatureSource.INTERACTIONS, "item")],
            feature_hint=FeatureHint.ITEM_ID,
            cardinality=n_items,
            padding_value=n_items,
        )
    )
    train = sequences(schema, pd.read_parquet(folder / "train.parquet"))
    validation_frame = pd.read_parquet(folder / "validation.parquet")
    validation_inputs = sequences(schema, validation_frame)
    truth = sequences(schema, validation_frame.assign(truth=[[i] for i in validation_frame["item"]]), "truth")
    test = sequences(schema, pd.read_parquet(folder / "test.parquet"))

    model = SasRec(
        schema,
        block_count=settings["blocks"],
        head_count=settings["heads"],
        hidden_size=settings["dim"],
        max_seq_len=max_len,
        dropout_rate=settings["dropout"],
        loss_type="CE",
        optimizer_factory=FatOptimizerFactory(learning_rate=settings["lr"]),
    )
    batch = settings["batch_size"]
    padding = {"padding_value": n_items}
    train_loader = DataLoader(SasRecTrainingDataset(train, max_len, **padding), batch_size=batch, shuffle=True)
    validation_loader = DataLoader(
        SasRecValidationDataset(validation_inputs, truth, train, max_len, **padding), batch_size=batch
    )
    best = KeepBest()
    trainer = lightning.Trainer(
        max_epochs=settings["epochs"],
        callbacks=[
            ValidationMetricsCallback(metrics=["ndcg"], ks=[10], postprocessors=[RemoveSeenItems(validation_inputs)]),
            EarlyStopping(monitor=METRIC, mode="max", patience=settings["patience"]),
            best,
        ],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        accelerator="cpu",
    )
    started = time.perf_counter()
    trainer.fit(model, train_loader, validation_loader)
    seconds = time.perf_counter() - started
    model.load_state_dict(best.state)
    model.eval()
    users = []
    with torch.no_grad():
        for row in DataLoader(SasRecPredictionDataset(test, max_len, **padding), batch_size=batch):
            users.append(model._model.get_query_embeddings(row["feature_tensor"], row["padding_mask"]))
        items = model._model.item_embedder.get_all_item_weights()
    np.save(folder / "users.npy", torch.cat(users).detach().numpy())
    np.save(folder / "items.npy", items.detach().numpy())
    result = {"seconds": seconds, "epochs": trainer.current_epoch, "best_validation_ndcg@10": best.score}
    (folder / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
