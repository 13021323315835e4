"""SASRec trained data-parallel by two processes (gloo, no Ray): what a Ray Train worker group runs.

Each process walks its equal share of one shuffled order, gradients are averaged after every
step, rank 0 measures validation and every rank decides on its figure: both stop at the same
epoch with the same weights, the best epoch's.
"""

import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sequence_fixtures import SASREC, SETTINGS, planted_sequences

from monorec.data.sequences import leave_last_out
from monorec.parallel import DataParallel
from monorec.recommenders import fit_recommender_kind
from monorec.recommenders.sequence_training import training_sequences
from monorec.training import FitOptions

WORKERS = 2


def _train(rank: int, port: int, folder: Path) -> None:
    """One worker: the same planted data and config as `test_sasrec`, its share of every epoch."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORKERS)
    torch.set_num_threads(1)
    sequences = planted_sequences()
    split = leave_last_out(sequences.data)
    options = FitOptions(parallel=DataParallel.from_process_group())
    model, result = fit_recommender_kind(SASREC, sequences.data, split, options)
    torch.save({"state": model.state_dict(), "history": result.history}, folder / f"rank{rank}.pt")
    dist.destroy_process_group()


def test_two_workers_walk_equal_shares_and_stop_together_with_the_best_weights(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(_train, args=(port, tmp_path), nprocs=WORKERS)  # a worker that fails fails the spawn
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(WORKERS)]
    first, second = ([{k: v for k, v in epoch.items() if k != "seconds"} for epoch in run["history"]] for run in ranks)
    assert first == second  # rank 0's validation reached rank 1, and both decided alike (each timed its own)
    assert all(torch.equal(ranks[0]["state"][name], ranks[1]["state"][name]) for name in ranks[0]["state"])
    scores = [epoch["validation_ndcg@10"] for epoch in first]
    best = int(np.argmax(scores))
    assert len(scores) < SASREC.train.epochs and len(scores) - 1 - best == SETTINGS.patience
    indptr, _ = training_sequences(leave_last_out(planted_sequences().data))
    trainable = int((np.diff(indptr) >= 2).sum())
    assert all(epoch["samples"] == trainable - trainable % WORKERS for epoch in first)  # equal shares, all ranks
    assert max(scores) >= 0.5  # it learned the chains (one process reaches about 0.8 on this data)
