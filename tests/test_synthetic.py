import numpy as np

from monorec.config import SyntheticConfig
from monorec.data import make_synthetic


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
