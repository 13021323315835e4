"""The paper's reported numbers (docs/method.md §6), the level each table is compared against.

Keys are cells (`<dataset>_<model>`). The beta ablation figures come from a summary of the paper
for ML-1M; the summary does not say which recommender, so they are compared with MF, the
paper's headline model. "Country, Folk and Metal near 1.00 at K = 10" on Last.FM names no
model, so it is compared with both.
"""

from monorec.paper import BETA_ABLATION  # noqa: F401  (the search draws them too, from a lower layer)

PURITY_K = (10, 20, 50)  # the K of each purity the paper reports, in order
PURITY: dict[str, dict[str, tuple[float, ...]]] = {  # cell -> concept -> purity at K = 10, 20, 50
    "ml1m_mf": {"Horror": (1.00, 1.00, 1.00), "Comedy": (1.00, 1.00, 1.00), "Children's": (0.90, 0.90, 0.88)},
    "ml1m_ncf": {"Comedy": (0.90, 0.95, 0.76), "Horror": (0.90, 0.95, 0.96)},
    "lastfm_mf": {"Electronic": (1.00, 0.90, 0.82), "Country": (1.00,), "Folk": (1.00,), "Metal": (1.00,)},
    "lastfm_ncf": {"Metal": (1.00, 0.95, 0.82), "Country": (1.00,), "Folk": (1.00,)},
}
POPULARITY_PERCENTILE = {"ml1m_mf": {20: 2.5, 50: 4.0}}  # mean percentile of the popularity neuron's top-K
DECADE_SHARE = {"ml1m_mf": {"1990s": 0.95}}  # the "90s Action" neuron's share of 1990s items
PURITY_GAP = 0.10  # a shortfall worth saying: more than 10 points of purity
RBO_GAP = 0.10  # more than 0.1 of (truncated) RBO
TAU_GAP = 0.10  # more than 0.1 of Kendall tau (of ranks)
MS_GAP = 0.10  # more than 0.1 of MS (our MS is defined differently: see the page)
POPULARITY_GAP = 2.0  # a popularity neuron whose top items sit more than 2 percentile points lower
EFFECT_FLOOR = 0.05  # an intervention that moves its measure by less than 5 points ...
RELATIVE_EFFECT_FLOOR = 0.5  # ... and by less than half of where it started did nothing
PAPER_DATA = {  # what the paper's notebooks used where our data differ
    "lastfm": "a track-level Last.FM dump (music_data.csv and user_data.csv, joined on track_id; not "
    "HetRec-2011), artists with more than 50 listeners, users with more than 50 listens, then artists with "
    "more than 40 listeners, and each artist's 4 most frequent tags after excluding indie, alternative, "
    "singer_songwriter, oldies, pop_rock, rnb, electro, decade tags and a few others",
}
