import numpy as np
import pyarrow.parquet as pq

from monorec.config import DataConfig, GenericDataConfig, SyntheticConfig
from monorec.data import load_dataset, make_synthetic, synthetic
from monorec.data.synthetic import write_synthetic


def test_deterministic_per_seed():
    a, truth_a = make_synthetic(SyntheticConfig(seed=3))
    b, truth_b = make_synthetic(SyntheticConfig(seed=3))
    c, _ = make_synthetic(SyntheticConfig(seed=4))
    assert a.interactions.equals(b.interactions) and np.array_equal(truth_a.item_genres, truth_b.item_genres)
    assert not a.interactions.equals(c.interactions)


def test_planted_structure_is_visible_in_the_data(synthetic):
    data, truth, _ = synthetic
    users, items = data.interactions["user"].to_numpy(), data.interactions["item"].to_numpy()
    in_preferred = (truth.user_genres[users] & truth.item_genres[items]).any(1)
    share_of_items = (truth.user_genres.astype(float) @ truth.item_genres.T.astype(float) > 0).mean()
    assert in_preferred.mean() > 0.75 > share_of_items  # users mostly pick their own genres
    assert truth.user_genres.sum(1).tolist() == [2] * data.n_users
    # Concepts in the item table are the planted genres; popularity follows the latent weight.
    matrix, names = data.concept_matrix()
    assert names == sorted(truth.genre_names)
    assert np.array_equal(matrix[:, [names.index(g) for g in truth.genre_names]], truth.item_genres)
    assert np.corrcoef(np.log(truth.item_weight), np.log(data.items["popularity"]))[0, 1] > 0.5
    assert set(data.items["decade"]) <= {1960, 1970, 1980, 1990, 2000, 2010}


def test_sampling_without_replacement_matches_the_exact_distribution():
    # The streaming sampler (first k distinct of i.i.d. mixture draws) against Gumbel top-k over
    # every item, which is exact sampling without replacement from the same weights.
    # Three genres, two per user: many items carry both, where the mixture's weights are easiest to get wrong.
    o = SyntheticConfig(n_users=4000, n_items=60, n_genres=3, genres_per_user=2, interactions_per_user=10)
    catalogue = synthetic._catalogue(o, np.random.default_rng(0))
    preferred = np.tile([[0, 1]], (o.n_users, 1))
    streamed = synthetic._sample(catalogue, preferred, o, np.random.default_rng(1))
    exact = synthetic._gumbel_top_k(catalogue, preferred, o, np.random.default_rng(2))
    assert all(len(set(row)) == o.interactions_per_user for row in streamed)
    frequency = [np.bincount(s.ravel(), minlength=o.n_items) / s.size for s in (streamed, exact)]
    assert np.abs(frequency[0] - frequency[1]).max() < 0.01  # sampling noise at 40,000 draws is ~0.003


def test_written_files_load_as_the_same_dataset(tmp_path):
    options = SyntheticConfig(n_users=250, n_items=80, interactions_per_user=12, seed=5)
    interactions, items = write_synthetic(options, tmp_path)
    config = DataConfig(
        dataset="generic",
        generic=GenericDataConfig(
            interactions_path=str(interactions), items_path=str(items), name_col="name", concepts_col="concepts"
        ),
    )
    loaded = load_dataset(config)
    expected, _ = make_synthetic(options)
    assert loaded.n_interactions == expected.n_interactions == 250 * 12
    assert np.array_equal(loaded.interactions[["user", "item"]].to_numpy(), expected.interactions[["user", "item"]])
    assert loaded.items["concepts"].tolist() == expected.items["concepts"].tolist()
    assert pq.read_schema(interactions).field("user_id").type == "int32"
