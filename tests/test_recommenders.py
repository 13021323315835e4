import dataclasses

import pytest
import torch
from sae_fixtures import planted, planted_ncf

from monorec.config import ModelConfig, TrainConfig
from monorec.evaluation import evaluate_ranking, popularity_scores
from monorec.recommenders import build_recommender, load_recommender, save_recommender, train_recommender
from monorec.recommenders.training import RowwiseAdam
from monorec.training import FitOptions

QUICK = TrainConfig(epochs=15, batch_size=512, lr=0.01, weight_decay=1e-4, seed=0, device="cpu")


@pytest.fixture(scope="module")
def trained():
    """MF (trained with QUICK) and NCF on the planted dataset, shared with the other tests."""
    return {"mf": planted()[3], "ncf": planted_ncf()}


@pytest.mark.parametrize(("kind", "margin"), [("mf", 1.2), ("ncf", 1.1)])
def test_beats_popularity_by_a_clear_margin(synthetic, trained, kind, margin):
    _, _, split = synthetic
    model = evaluate_ranking(trained[kind].rank_scores, split).full
    baseline = evaluate_ranking(popularity_scores(split), split).full
    assert model.ndcg > margin * baseline.ndcg
    assert model.hr > baseline.hr and model.mpr < baseline.mpr


@pytest.mark.parametrize("kind", ["mf", "ncf"])
def test_explicit_embeddings_and_full_ranking_agree(trained, kind):
    model = trained[kind]
    users, items = torch.tensor([0, 3, 3, 7]), torch.tensor([5, 0, 9, 2])
    own = model(users, items)
    explicit = model.logits(users, items, model.user_embeddings(users), model.item_embeddings(items))
    assert torch.allclose(own, explicit)
    assert torch.allclose(model.rank_scores(users)[torch.arange(4), items], own, atol=1e-5)
    # Edited embeddings change the score: the scoring function really uses the arguments.
    edited = model.logits(users, items, model.user_embeddings(users) * 0, model.item_embeddings(items))
    assert not torch.allclose(edited, own)


@pytest.mark.parametrize("kind", ["mf", "ncf"])
def test_save_then_load_gives_identical_scores(trained, kind, tmp_path):
    model = trained[kind]
    save_recommender(model, tmp_path, {"dataset": "synthetic"})
    loaded, metadata = load_recommender(tmp_path)
    users = torch.arange(20)
    assert torch.equal(loaded.rank_scores(users), model.rank_scores(users))
    assert metadata == {"dataset": "synthetic"} and not any(p.requires_grad for p in loaded.parameters())
    assert not list(tmp_path.glob("*.pkl")) and (tmp_path / "recommender.safetensors").is_file()


@pytest.mark.parametrize("sparse", [False, True])
def test_resuming_from_a_checkpoint_matches_an_uninterrupted_run(synthetic, tmp_path, sparse):
    _, _, split = synthetic
    config = dataclasses.replace(QUICK, epochs=4, sparse_embeddings=sparse, weight_decay=0.0)
    full = build_recommender(ModelConfig(embedding_dim=8), split.n_users, split.n_items)
    train_recommender(full, split, config)
    # "Crash" after 2 epochs, then rerun the 4-epoch config over the same checkpoint folder.
    partial = build_recommender(ModelConfig(embedding_dim=8), split.n_users, split.n_items)
    train_recommender(partial, split, dataclasses.replace(config, epochs=2), FitOptions(tmp_path, "run"))
    resumed = build_recommender(ModelConfig(embedding_dim=8), split.n_users, split.n_items)
    result = train_recommender(resumed, split, config, FitOptions(tmp_path, "run"))
    assert result.epochs == 4 and [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    assert torch.allclose(resumed.rank_scores(torch.arange(50)), full.rank_scores(torch.arange(50)), atol=1e-5)


def test_checkpoint_of_another_config_is_not_resumed(synthetic, tmp_path):
    _, _, split = synthetic
    config = dataclasses.replace(QUICK, epochs=1)
    model = build_recommender(ModelConfig(embedding_dim=8), split.n_users, split.n_items)
    train_recommender(model, split, config, FitOptions(tmp_path, "a"))
    result = train_recommender(model, split, config, FitOptions(tmp_path, "b"))
    assert [h["epoch"] for h in result.history] == [1]  # trained afresh, not "already done"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_matches_cpu_quality(synthetic):
    _, _, split = synthetic
    model = build_recommender(ModelConfig(embedding_dim=16), split.n_users, split.n_items)
    result = train_recommender(model, split, dataclasses.replace(QUICK, device="cuda"))
    assert result.device.startswith("cuda")
    gpu = evaluate_ranking(model.rank_scores, split, device="cuda").full
    baseline = evaluate_ranking(popularity_scores(split), split).full
    assert gpu.ndcg > 1.2 * baseline.ndcg


def test_sparse_embeddings_move_only_the_rows_a_batch_touched(synthetic):
    """Lazy Adam: rows left out of the second batch stay put; dense Adam's momentum moves them again."""
    _, _, split = synthetic
    assert _rows_moved_by_second_step(split, sparse=True) == [2, 3]
    assert _rows_moved_by_second_step(split, sparse=False) == [0, 1, 2, 3]


def test_sparse_embeddings_train_as_well_as_dense(synthetic):
    _, _, split = synthetic
    ndcg = {}
    for sparse in (False, True):  # no weight decay on either: lazy Adam has none
        model = build_recommender(ModelConfig(kind="mf", embedding_dim=16), split.n_users, split.n_items)
        train_recommender(model, split, dataclasses.replace(QUICK, weight_decay=0.0, sparse_embeddings=sparse))
        ndcg[sparse] = evaluate_ranking(model.rank_scores, split).full.ndcg
    untrained = build_recommender(ModelConfig(kind="mf", embedding_dim=16), split.n_users, split.n_items)
    start = evaluate_ranking(untrained.rank_scores, split).full.ndcg
    assert ndcg[True] >= 0.95 * ndcg[False] and ndcg[True] > 3 * start, (ndcg, start)


def _rows_moved_by_second_step(split, sparse: bool) -> list[int]:
    """Step on users 0 and 1, then on users 2 and 3: which user rows did the second step change?"""
    model = build_recommender(ModelConfig(embedding_dim=8), split.n_users, split.n_items)
    optimizer = RowwiseAdam(model, 0.01) if sparse else torch.optim.Adam(model.parameters(), 0.01)
    before = None
    for users in (torch.tensor([0, 1]), torch.tensor([2, 3])):
        before = model.user_embedding.weight.detach().clone()
        optimizer.zero_grad()
        model(users, torch.tensor([5, 6])).sum().backward()
        assert model.user_embedding.weight.grad.is_sparse == sparse
        optimizer.step()
    return (model.user_embedding.weight != before).any(1).nonzero().flatten().tolist()


def test_indexed_sparse_adam_is_sparse_adam_to_the_bit():
    """The row-gather SparseAdam moves exactly the weights and moments torch's does, and their states load
    into each other (a checkpoint from either resumes with the other)."""
    from monorec.recommenders.sparse_adam import IndexedSparseAdam

    def train(optimizer_type: type, steps: int = 30) -> tuple:
        torch.manual_seed(0)
        users, items = torch.nn.Embedding(500, 8, sparse=True), torch.nn.Embedding(40, 8, sparse=True)
        optimizer = optimizer_type([users.weight, items.weight], lr=0.05)
        generator = torch.Generator().manual_seed(1)
        for _ in range(steps):
            u, i = torch.randint(0, 500, (256,), generator=generator), torch.randint(0, 40, (256,), generator=generator)
            labels = torch.rand(256, generator=generator)
            loss = torch.nn.functional.binary_cross_entropy_with_logits((users(u) * items(i)).sum(1), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return users.weight.detach(), items.weight.detach(), optimizer

    *reference, torch_adam = train(torch.optim.SparseAdam)
    *indexed, ours = train(IndexedSparseAdam)
    assert all(torch.equal(a, b) for a, b in zip(reference, indexed))
    assert not torch.equal(reference[0], train(IndexedSparseAdam, steps=29)[0])  # the comparison can fail
    for theirs, mine in zip(torch_adam.state.values(), ours.state.values()):
        assert theirs["step"] == mine["step"] == 30
        assert torch.equal(theirs["exp_avg"], mine["exp_avg"]) and torch.equal(theirs["exp_avg_sq"], mine["exp_avg_sq"])
    ours.load_state_dict(torch_adam.state_dict())
