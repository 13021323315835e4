"""What one training run reports: the recommender's ranking quality, the SAE's fidelity and neurons."""

from __future__ import annotations

import dataclasses

from monorec.results.studies import CaseStudies


@dataclasses.dataclass(frozen=True)
class RankingMetrics:
    """Held-out positives ranked among candidates: HR@k, NDCG@k, MRR, MPR (docs/method.md §4)."""

    k: int
    ndcg: float
    hr: float
    mrr: float
    mpr: float


@dataclasses.dataclass(frozen=True)
class Ranking:
    """Full ranking (against every unseen item) and sampled ranking (against sampled negatives)."""

    full: RankingMetrics
    sampled: RankingMetrics


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    name: str
    n_users: int
    n_items: int
    n_interactions: int
    n_test_users: int
    checksum: str
    n_evaluated_users: int | None = None  # users ranked (eval.max_users); None: a result written before it
    ties: TieShares | None = None  # a leave-last-out split's (`data.sequences`); None: a random split


@dataclasses.dataclass(frozen=True)
class TieShares:
    """How often the order of a user's rows rests on the tie rule rather than on time (the page prints these).

    rows: share of timestamped rows that share their second with another row of the same user.
    last_two: share of tested users whose test and validation items share one second.
    """

    rows: float
    last_two: float


@dataclasses.dataclass(frozen=True)
class TrainingSummary:
    epochs: int
    seconds: float
    samples_per_second: float
    final_loss: float
    device: str


@dataclasses.dataclass(frozen=True)
class RecommenderRun:
    """`jobs/train_recommender.py`: the model's ranking quality next to the popularity baseline."""

    dataset: DatasetSummary
    model: Ranking
    popularity: Ranking
    training: TrainingSummary
    config_hash: str


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """How well the reconstruction keeps the recommender's lists and quality (docs/method.md §4).

    Measured on `users` report users, held out of SAE training. The paper's measures
    (truncated RBO, Kendall tau of rank positions) at `paper_depth`; ours (extrapolated RBO,
    Kendall tau-b of scores) at `depth`; ranking quality of the held-out positives with the
    original and the reconstructed embeddings.
    """

    users: int
    paper_depth: int
    rbo_truncated: float
    kendall_tau_ranks: float
    depth: int
    rbo_extrapolated: float
    kendall_tau_scores: float
    original: RankingMetrics
    reconstructed: RankingMetrics


@dataclasses.dataclass(frozen=True)
class ConceptNeuron:
    """A concept's best neuron and its purity@K for each K."""

    neuron: int
    purity: dict[int, float]


@dataclasses.dataclass(frozen=True)
class PopularityNeuron:
    """The neuron whose top items are the most popular: mean popularity percentile at each K."""

    neuron: int
    percentile: dict[int, float]


@dataclasses.dataclass(frozen=True)
class DecadeNeuron:
    """A decade's best neuron: the share of its top-k items from that decade."""

    neuron: int
    k: int
    share: float


@dataclasses.dataclass(frozen=True)
class PrefixLabel:
    neuron: int
    label: str
    purity: float  # purity@k of the neuron for its own label


@dataclasses.dataclass(frozen=True)
class PrefixGroup:
    """The neurons one Matryoshka prefix adds (first..last), with their labels and purity@k."""

    first: int
    last: int
    k: int
    labels: list[PrefixLabel]
    labelled_share: float
    mean_purity: float | None


@dataclasses.dataclass(frozen=True)
class Monosemanticity:
    """What the SAE's neurons mean: MS, dead ratio, each concept's best neuron (`concepts`)."""

    ms: float
    dead_ratio: float
    n_labelled: int
    concepts: dict[str, ConceptNeuron]
    popularity_neuron: PopularityNeuron
    decade_neurons: dict[str, DecadeNeuron]
    prefixes: list[PrefixGroup] = dataclasses.field(default_factory=list)  # Matryoshka SAEs only
    # Mean over neurons of the share of users and items each fires on, and of its mean activation
    # over users and over items (averaged): the quantity KL pulls towards rho (None: older records).
    firing_rate: float | None = None
    mean_activation: float | None = None


@dataclasses.dataclass(frozen=True)
class SAERun:
    """`jobs/train_sae.py`: fidelity, monosemanticity and the case studies of one SAE."""

    fidelity: Fidelity
    mono: Monosemanticity
    case_studies: CaseStudies
    training: TrainingSummary
    config_hash: str
