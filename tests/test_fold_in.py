"""Users the model never saw: fold-in per kind, and the service's history requests, in Python and over HTTP (no Ray)."""

import math

import numpy as np
import pytest
import torch
from http_app import planted_service, post, serving
from sae_fixtures import IMPLICIT_TRAIN, planted, planted_implicit, planted_lightgcn, planted_ncf

import monorec.recommenders.fold_in as fold_in_module
from monorec.config import TrainConfig
from monorec.errors import InvalidRequestError, UnknownIdError
from monorec.evaluation import evaluate_ranking
from monorec.interventions import Intervention, Steerer
from monorec.recommenders.fold_in import NEWTON, ClosedForm, Newton, fold_in_many
from monorec.recommenders.registry import fold_in_for
from monorec.serving import RankRequest

PLANTED = {  # each kind's model on the planted dataset, and the training settings its fold-in reads
    "mf": (lambda: planted()[3], TrainConfig()),
    "ncf": (planted_ncf, TrainConfig()),
    "als": (lambda: planted_implicit("als"), IMPLICIT_TRAIN["als"]),  # implicit's refit, at its regularisation
    "bpr": (lambda: planted_implicit("bpr"), IMPLICIT_TRAIN["bpr"]),
    "lightgcn": (planted_lightgcn, TrainConfig()),
}


def _ndcg_folded(model, fold, users):
    """NDCG@10 of `users` ranked with embeddings folded in from their training items, and with their own."""
    _, _, split, _ = planted()
    indptr, items = split.train_csr()
    folded = {int(u): fold(model, torch.as_tensor(items[indptr[u] : indptr[u + 1]])) for u in users}

    def scores(index):
        return model.logits_all(None, torch.stack([folded[int(u)] for u in index]), model.item_embeddings())

    with torch.no_grad():
        trained = evaluate_ranking(model.rank_scores, split, 10, 256, "cpu", users).full.ndcg
    return evaluate_ranking(scores, split, 10, 256, "cpu", users).full.ndcg, trained


def test_closed_form_fold_in_solves_its_least_squares_problem():
    _, _, _, model = planted()
    history = torch.tensor([3, 17, 42, 99])
    fold = ClosedForm(regularization=0.5, negative_weight=0.3)
    x = fold(model, history).double().requires_grad_(True)
    items = model.item_embeddings().double()
    target = torch.zeros(len(items), dtype=torch.float64)
    target[history] = 1
    weight = torch.where(target > 0, 1.0, 0.3)
    loss = (weight * (target - items @ x) ** 2).sum() + 0.5 * x.pow(2).sum()
    loss.backward()
    assert x.grad.abs().max() < 1e-6  # the minimum: no gradient left


def test_newton_fold_in_minimises_mfs_balanced_logistic_loss():
    _, _, _, model = planted()
    history = torch.tensor([3, 17, 42, 99, 150])
    x = Newton(regularization=10.0, steps=8)(model, history).double().requires_grad_(True)
    logits = model.logits_all(None, x[None].float(), model.item_embeddings())[0].double()
    labels = torch.zeros_like(logits)
    labels[history] = 1
    weights = torch.where(labels > 0, 1.0, len(history) / (len(labels) - len(history)))
    loss = (weights * torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")).sum()
    (loss + 10.0 / 2 * x.pow(2).sum()).backward()  # Newton's penalty is (lambda / 2) |x|^2
    assert x.grad.abs().max() < 1e-3  # Newton converges to the minimum


def test_a_batch_of_users_is_folded_in_as_each_would_be_alone(monkeypatch):
    """A replica folds concurrent histories in together (`FoldIn.many`); each user's vector is their own."""
    _, _, _, model = planted()
    histories = [torch.tensor([3, 17, 42, 99, 150]), torch.tensor([5]), torch.tensor(list(range(0, 120, 3)))]
    for fold_in in (NEWTON, ClosedForm(regularization=1.0)):
        together = fold_in_many(fold_in, model, histories)  # Newton's own batch; the closed form one by one
        alone = torch.stack([fold_in(model, history) for history in histories])
        assert together.shape == (3, model.embedding_dim) and torch.allclose(together, alone, atol=1e-4)
        assert not torch.allclose(together[0], together[1], atol=1e-2)  # different histories, different users

    class OneByOne:  # a kind registered at run time may bring a fold-in without `many`
        quick = True

        def __call__(self, model, history):
            return NEWTON(model, history)

    assert torch.allclose(fold_in_many(OneByOne(), model, histories), NEWTON.many(model, histories), atol=1e-5)
    in_one_chunk = NEWTON.many(model, histories)
    monkeypatch.setattr(fold_in_module, "CHUNK_BYTES", 1)  # one user per chunk: the same users
    assert torch.allclose(NEWTON.many(model, histories), in_one_chunk, atol=1e-5)


@pytest.mark.parametrize(
    "kind",
    [
        *(kind for kind in PLANTED if kind != "lightgcn"),
        pytest.param(  # strict: the day the fold-in reaches it, this fails until the mark goes
            "lightgcn",
            marks=pytest.mark.xfail(
                raises=AssertionError,
                strict=True,
                reason="LEAST_SQUARES folds users in at NDCG@10 0.280 against the trained users' 0.323 (0.87x) here",
            ),
        ),
    ],
)
def test_folded_in_users_rank_their_held_out_items_nearly_as_well_as_trained_ones(kind):
    make, train = PLANTED[kind]
    model = make()
    assert model.kind == kind
    folded, trained = _ndcg_folded(model, fold_in_for(kind, train), np.arange(0, 600, 5))
    assert folded >= 0.9 * trained, (kind, folded, trained)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    return planted_service(tmp_path_factory.mktemp("bundle") / "b")


def test_a_history_request_ranks_the_folded_user_without_their_history(service):
    bundle = service.bundle
    user = 7
    seen = bundle.train_items[bundle.train_indptr[user] : bundle.train_indptr[user + 1]].tolist()
    history = [service.item_ids[i] for i in seen]
    folded = service.fold_in(history + history[:3])  # repeats count once
    assert folded.history == tuple(seen)
    horror = (Intervention("Horror", "suppress", 2.0, "both"),)
    plain, steered, known = service.rank_many(
        [RankRequest(folded, (), 20), RankRequest(folded, horror, 20), RankRequest(user, (), 20)]
    )
    assert not {e["item_id"] for e in plain} & set(history) and len(plain) == 20
    assert plain != steered  # steering works on a folded user
    overlap = len({e["item_id"] for e in plain} & {e["item_id"] for e in known}) / 20
    assert overlap >= 0.5, overlap  # the folded user looks like the user their history came from
    explained = service.explain(folded, plain[0]["item_id"], top=3)
    assert len(explained) == 3 and all(np.isfinite(e["contribution"]) for e in explained)


def test_bad_histories_are_named_and_refused(service):
    with pytest.raises(UnknownIdError) as unknown:
        service.fold_in([service.item_ids[0], *(f"missing-{n}" for n in range(12)), "x" * 100])
    message = str(unknown.value)
    assert "'missing-0'" in message and "'missing-9'" in message and "'missing-10'" not in message
    assert "and 3 more" in message and "x" * 41 not in message
    for history in ([], [service.item_ids[0]] * 1001):
        with pytest.raises(InvalidRequestError, match="a history holds 1 to 1000 items"):
            service.fold_in(history)


def test_a_history_posted_over_http_gets_exactly_the_list_of_the_kinds_fold_in(service):
    """POST /recommend with a history answers the list computed here through the library: the history folded
    in by the kind's own fold-in, scored by a Steerer (with the same edit, when steered), its items removed."""
    bundle = service.bundle
    seen = bundle.train_items[bundle.train_indptr[7] : bundle.train_indptr[8]].tolist()
    item_ids = bundle.items["item_id"].tolist()
    history = [item_ids[i] for i in seen]
    model = bundle.recommender
    steerer = Steerer(model, bundle.sae, bundle.labels, item_ids, bundle.items)
    with torch.no_grad():
        folded = steerer.folded_users(fold_in_for(model.kind, bundle.config.train)(model, torch.tensor(seen))[None])
    horror = Intervention("Horror", "suppress", 2.0, "both")
    lists = []
    with serving(service):
        for edits in ([], [horror]):
            sent = [{"neuron": e.neuron, "op": e.op, "strength": e.strength, "tower": e.tower} for e in edits]
            answer = post("/recommend", {"history": history + history[:3], "k": 20, "interventions": sent})
            assert answer.status_code == 200, answer.text
            scores = steerer.scores(folded, edits)[0]
            scores[seen] = -math.inf
            expected = [item_ids[i] for i in scores.topk(20).indices.tolist()]
            lists.append([entry["item_id"] for entry in answer.json()["items"]])
            assert lists[-1] == expected, edits
    assert lists[0] != lists[1]  # the edit moved the folded user's list
