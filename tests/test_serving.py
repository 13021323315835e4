"""The service core without Ray: batched ranking equals ranking each request on its own."""

import pytest
import torch
from sae_fixtures import planted, trained_sae

from monorec.bundle import BundleSource, read_bundle, write_bundle
from monorec.config import ExperimentConfig
from monorec.interventions import Intervention
from monorec.serving import RankRequest, RecommenderService


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data, _, split, model = planted()
    sae, _, report = trained_sae()
    source = BundleSource(model, sae, report.neurons, data, split, ExperimentConfig())
    folder = write_bundle(tmp_path_factory.mktemp("bundle") / "b", source)
    return RecommenderService(read_bundle(folder))


def test_a_mixed_batch_ranks_each_request_as_if_alone(service):
    horror = (Intervention("Horror", "suppress"),)
    batch = [
        RankRequest(3, (), 10, True),
        RankRequest(5, horror, 5, True),
        RankRequest(8, (), 20, False),
        RankRequest(3, horror, 10, False),
    ]
    together = service.rank_many(batch)
    alone = [service.rank_many([request])[0] for request in batch]
    for batched, single in zip(together, alone):  # scores agree up to the matmul's batch-shape rounding
        assert [entry["item_id"] for entry in batched] == [entry["item_id"] for entry in single]
        assert [entry["score"] for entry in batched] == pytest.approx([entry["score"] for entry in single], rel=1e-5)
    assert [len(items) for items in together] == [10, 5, 20, 10]
    assert together[1] != service.rank_many([RankRequest(5, (), 5, True)])[0]  # the edit changed that list


def test_exclude_seen_drops_training_items_and_only_then(service):
    bundle = service.bundle
    user = 4
    seen = set(bundle.train_items[bundle.train_indptr[user] : bundle.train_indptr[user + 1]].tolist())
    seen_ids = {service.item_ids[i] for i in seen}
    n_items = len(service.item_ids)
    masked, unmasked = service.rank_many([RankRequest(user, (), n_items, True), RankRequest(user, (), n_items, False)])
    assert not seen_ids & {entry["item_id"] for entry in masked} and len(masked) == n_items - len(seen)
    assert seen_ids <= {entry["item_id"] for entry in unmasked} and len(unmasked) == n_items
    scores = bundle.recommender.rank_scores(torch.tensor([user]))[0]
    assert [entry["rank"] for entry in unmasked] == list(range(1, n_items + 1))
    assert unmasked[0]["score"] == pytest.approx(scores.max().item())
