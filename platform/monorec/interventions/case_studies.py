"""Which users, concepts and items the three case studies use (configured by `case_studies`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from monorec.config import CaseStudyConfig
from monorec.data import InteractionData, Split
from monorec.interpret import NeuronReport
from monorec.interventions.recipes import filtering, masked_scores, popularity_control, promotion
from monorec.interventions.steering import Steerer
from monorec.results import CaseStudies, FilteringResult, PromotionResult


@dataclasses.dataclass(frozen=True)
class Study:
    """What every case study reads: the steerer, the data and split, the neuron report, the test users."""

    steerer: Steerer
    data: InteractionData
    split: Split
    report: NeuronReport
    users: torch.Tensor


def case_studies(
    steerer: Steerer, data: InteractionData, split: Split, report: NeuronReport, settings: CaseStudyConfig
) -> CaseStudies:
    """Filtering, promotion (where the data has the concept) and popularity control, as configured."""
    users = torch.as_tensor(split.test_users, device=steerer.user_codes.codes.device)
    study = Study(steerer, data, split, report, users)
    concepts = report.mono.concepts
    percentile = data.items["popularity_percentile"].to_numpy()
    neuron = report.mono.popularity_neuron.neuron
    return CaseStudies(
        filtering=_filtering(study, settings) if concepts else None,
        promotion=_promotion(study, settings) if settings.promote_concept in concepts else None,
        popularity=popularity_control(steerer, split, users, neuron, percentile),
    )


def _filtering(study: Study, settings: CaseStudyConfig) -> FilteringResult:
    """Suppress the concept for the users whose top-10 holds most of it (the purest concept if absent)."""
    concepts = study.report.mono.concepts
    k = min(study.report.purity_k)
    concept = settings.filter_concept
    if concept not in concepts:
        concept = max(concepts, key=lambda c: concepts[c].purity[k])
    matrix, names = study.data.concept_matrix()
    users = study.users
    concept_items = torch.as_tensor(matrix[:, names.index(concept)], device=users.device)
    top = masked_scores(study.steerer, study.split, users).topk(10, dim=1).indices
    heaviest = users[concept_items[top].float().mean(1).argsort(descending=True)[: settings.filter_users]]
    return filtering(study.steerer, study.split, heaviest, concepts[concept].neuron, concept_items, concept)


def _promotion(study: Study, settings: CaseStudyConfig) -> PromotionResult:
    """Raise one item's concept neuron for the users whose taste is elsewhere (docs/method.md §5)."""
    items = study.data.items
    matrix, names = study.data.concept_matrix()
    carriers = np.flatnonzero(matrix[:, names.index(settings.promote_concept)])
    named = np.flatnonzero(items["name"].to_numpy() == settings.promote_item)
    popularity = items["popularity"].to_numpy()
    item = int(named[0]) if len(named) else int(carriers[np.argmax(popularity[carriers])])
    audiences = [names.index(a) for a in settings.audiences if a in names]
    users = study.users
    dominant = dominant_concepts(study.split, users.cpu().numpy(), matrix)
    audience = users[torch.as_tensor(np.isin(dominant, audiences), device=users.device)]
    return promotion(
        study.steerer,
        study.split,
        audience,
        item,
        study.report.mono.concepts[settings.promote_concept].neuron,
        concept=settings.promote_concept,
        item_name=str(items["name"].iloc[item]),
        audiences=[names[a] for a in audiences],
        k=settings.promote_k,
    )


def dominant_concepts(split: Split, users: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Each user's most frequent concept over their training items (-1 when none carries one)."""
    indptr, items = split.train_csr()
    counts = np.stack([matrix[items[indptr[u] : indptr[u + 1]]].sum(0) for u in users]) if len(users) else matrix[:0]
    return np.where(counts.max(1) > 0, counts.argmax(1), -1)
