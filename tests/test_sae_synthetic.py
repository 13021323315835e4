"""The SAE on the planted synthetic dataset: concepts recovered, beta and sparsity effects, variants."""

import torch
from sae_fixtures import planted, trained_sae

from monorec.sae import load_sae, reconstructed_scorer, save_sae


def test_recovers_and_labels_the_planted_genres():
    _data, truth, _, _ = planted()
    _, _, report = trained_sae()
    recovered = [g for g in truth.genre_names if report.mono.concepts[g].purity[10] >= 0.9]
    assert len(recovered) >= 0.8 * len(truth.genre_names)
    labels = report.neurons.set_index("neuron")["label"]
    correctly_labelled = [g for g in recovered if labels[report.mono.concepts[g].neuron] == g]
    assert len(correctly_labelled) >= 0.8 * len(truth.genre_names)
    first = correctly_labelled[0]
    assert report.mono.concepts[first].neuron in report.labels[first]


def test_prediction_loss_improves_list_fidelity():
    _, with_pred, _ = trained_sae()
    _, without_pred, _ = trained_sae(beta=0.0)
    assert with_pred.history[-1]["rbo_truncated"] > without_pred.history[-1]["rbo_truncated"]
    assert with_pred.history[-1]["pred"] < without_pred.history[-1]["pred"]


def test_kl_sparsity_leaves_fewer_dead_neurons():
    """An L1 penalty alone kills neurons; the KL term keeps each neuron's firing rate near rho."""
    _, without_kl, _ = trained_sae(lambda1=0.05, lambda2=0.0)
    _, with_kl, _ = trained_sae(lambda1=0.05, lambda2=0.1)
    assert without_kl.history[-1]["dead_ratio"] > 0  # at least one of the 24 neurons died
    assert with_kl.history[-1]["dead_ratio"] < 0.5 * without_kl.history[-1]["dead_ratio"]


def test_topk_keeps_exactly_k_active():
    sae, _, _ = trained_sae(activation="topk", k=3)
    _, _, _, model = planted()
    codes = sae.encode(model.item_embeddings()).codes
    assert (codes > 0).sum(1).le(3).all() and (codes > 0).sum(1).float().mean() > 2.9
    batch = trained_sae(activation="batchtopk", k=3)[0]
    batch.train()
    batch_codes = batch.encode(model.item_embeddings()).codes
    assert (batch_codes > 0).sum() <= 3 * len(batch_codes)


def test_matryoshka_prefixes_reconstruct_on_their_own():
    _, _, _split, model = planted()
    nested, _, _ = trained_sae(matryoshka=(6, 12, 24))
    plain, _, _ = trained_sae()
    embeddings = model.item_embeddings()
    with torch.no_grad():

        def error(sae, m):
            return (sae.decode(sae.encode(embeddings), m) - embeddings).pow(2).mean().item()

        assert error(nested, 6) < 0.7 * error(plain, 6)
        assert error(nested, 6) > error(nested, 12) > error(nested, 24)


def test_save_and_load_gives_identical_codes(tmp_path):
    _, _, _, model = planted()
    sae, _, _ = trained_sae()
    save_sae(sae, tmp_path, {"path": "recommender", "config_hash": "abc"})
    loaded, reference = load_sae(tmp_path)
    assert reference == {"path": "recommender", "config_hash": "abc"}
    users = torch.arange(10)
    assert torch.equal(reconstructed_scorer(loaded, model)(users), reconstructed_scorer(sae, model)(users))
