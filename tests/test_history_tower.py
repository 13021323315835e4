"""A kind without a user table: each user's vector is the mean of their history's item vectors.

Registered as any kind is (`planted_kinds.MEAN_HISTORY`), it trains, gets an SAE, is explained
and steered, and the service places a user it never saw by one forward pass over their history:
given a known user's training items as a history, the served list is that user's own.
"""

import numpy as np
import pytest
import torch
from planted_kinds import MEAN_HISTORY, registered
from sae_fixtures import SAE_TRAIN

from monorec.bundle import BundleSource, read_bundle, write_bundle
from monorec.config import ExperimentConfig, InterpretConfig, ModelConfig, SAEConfig, TrainConfig
from monorec.evaluation import evaluate_ranking, popularity_scores
from monorec.interpret import interpret_sae
from monorec.interventions import Intervention
from monorec.recommenders import fit_recommender_kind
from monorec.recommenders.history import FORWARD
from monorec.recommenders.registry import fold_in_for
from monorec.sae import SparseAutoencoder, train_sae
from monorec.serving import RankRequest, RecommenderService

TRAIN = TrainConfig(epochs=5, batch_size=256, lr=0.01, device="cpu")


@pytest.fixture(scope="module")
def served(synthetic, tmp_path_factory):
    """(model, truth, split, neuron report, service): the kind trained by its spec, explained and bundled."""
    data, truth, split = synthetic
    with registered(MEAN_HISTORY) as kind:
        config = ExperimentConfig(model=ModelConfig(kind.traits.name, 16), train=TRAIN)
        model, _ = fit_recommender_kind(config, data, split)
        model.requires_grad_(False)
        torch.manual_seed(0)
        sae = SparseAutoencoder(16, SAEConfig(n_latents=24))
        train_sae(sae, model, split, SAE_TRAIN)
        report = interpret_sae(sae, model, data, InterpretConfig())
        source = BundleSource(model, sae, report.neurons, data, split, ExperimentConfig())
        service = RecommenderService(read_bundle(write_bundle(tmp_path_factory.mktemp("bundle") / "b", source)))
        yield model, truth, split, report, service


def test_a_users_vector_is_the_mean_of_their_history_and_it_ranks(served):
    model, _, split, _, service = served
    indptr, items = split.train_csr()
    assert not hasattr(model, "user_embedding")  # no user table at all
    means = torch.stack([model.item_embeddings()[items[indptr[u] : indptr[u + 1]]].mean(0) for u in range(5)])
    assert torch.allclose(model.user_embeddings(torch.arange(5)), means, atol=1e-6)
    loaded = service.bundle.recommender  # saved and restored with the histories it computes users from
    assert torch.equal(loaded.user_embeddings(), model.user_embeddings())
    ndcg = evaluate_ranking(model.rank_scores, split).full.ndcg
    assert ndcg > 1.1 * evaluate_ranking(popularity_scores(split), split).full.ndcg


def test_a_new_users_history_is_served_by_one_forward_pass(served):
    _, _, split, _, service = served
    assert fold_in_for(MEAN_HISTORY.traits.name, TRAIN) is FORWARD  # the kind's own way: nothing is fitted
    assert service.quick_fold_in
    indptr, items = split.train_csr()
    user = 7
    history = [service.item_ids[i] for i in items[indptr[user] : indptr[user + 1]]]
    folded = service.fold_in(history)
    assert torch.allclose(folded.users.embeddings, service.bundle.recommender.user_embeddings(torch.tensor([user])))
    horror = (Intervention(concept="Horror", op="suppress", strength=1.0, tower="both"),)
    for interventions in ((), horror):  # as a new user, user 7 gets user 7's own lists
        new, known = service.rank_many([RankRequest(folded, interventions), RankRequest(user, interventions)])
        assert [e["item_id"] for e in new] == [e["item_id"] for e in known] and len(new) == 10
    new_user, known_user = (service.explain(who, new[0]["item_id"]) for who in (folded, user))
    assert [e["neuron"] for e in new_user] == [e["neuron"] for e in known_user]
    assert [e["contribution"] for e in new_user] == pytest.approx([e["contribution"] for e in known_user], rel=1e-4)


def test_the_sae_names_the_genres_and_suppressing_horror_steers_its_fans_away(served):
    _, truth, _, report, service = served
    recovered = [genre for genre in truth.genre_names if report.mono.concepts[genre].purity[10] >= 0.9]
    assert len(recovered) >= 5, {genre: report.mono.concepts[genre].purity[10] for genre in truth.genre_names}
    genre = truth.genre_names.index("Horror")
    horror = {service.item_ids[i] for i in np.flatnonzero(truth.item_genres[:, genre])}
    fans = [int(u) for u in np.flatnonzero(truth.user_genres[:, genre])]
    suppress = (Intervention("Horror", "suppress", 2.0, "user"),)  # beyond removal: steer away
    before, after = (
        np.mean([[e["item_id"] in horror for e in ranked] for ranked in service.rank_many(requests)])
        for requests in ([RankRequest(u) for u in fans], [RankRequest(u, suppress) for u in fans])
    )
    assert before >= 0.3 and after <= before / 4, (before, after)  # measured 0.38 -> 0.07
