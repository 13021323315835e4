"""Filtering where labels run out: a concept's tags partly hidden, judged by every tag (docs/method.md §5).

A seeded `hidden_tags` share of the concept's items lose its tag in the item table that
labelling, concept directions, calibration, the linear probe and the metadata filters read
(`visible`). Only the evaluation reads every tag (`every`): the report audience (the users with
the most of the concept in their top-k), the effect (the concept's share of their top-k) and the
collateral (RBO of the lists without the concept's items). The validation audience and the
calibration target are on the visible tags, like everything a user of monorec could compute.

Methods compared on the report users:
    SAE          suppress the concept's best neuron (purity on visible tags) or its direction
                 (Cohen's d on visible tags), on each configured tower, calibrated
    probe        suppress the linear probe's direction (trained on visible tags), calibrated
    filters      remove the items tagged visible; visible or inferred by the probe; every tag
                 (the last only for reference: no one filtering a real catalogue has it)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from monorec.interpret.neurons import best_neurons, purity
from monorec.interventions import baselines
from monorec.interventions.directions import LinearProbe
from monorec.interventions.effects import Lists, concept_share
from monorec.interventions.steering import Intervention
from monorec.interventions.study import TOP_K, Study, choose, curve, steer, suppressions
from monorec.interventions.targets import Target
from monorec.results import Curve, Operating, StudyResult
from monorec.sae.scan import scan

PROBE_THRESHOLD = 0.5  # a class-balanced probe's even odds: items above it are inferred to carry the concept


def hide_tags(carriers: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Bool per item: its tag is hidden (a seeded `share` of the items that carry it)."""
    tagged = np.flatnonzero(carriers)
    chosen = np.random.default_rng(seed).choice(tagged, size=round(share * len(tagged)), replace=False)
    hidden = np.zeros(len(carriers), dtype=bool)
    hidden[chosen] = True
    return hidden


def without_tag(items: pd.DataFrame, concept: str, hidden: np.ndarray) -> pd.DataFrame:
    """The item table with `concept` removed from the hidden items' concept lists."""
    visible = items.copy()
    visible["concepts"] = [
        [c for c in concepts if c != concept] if hide else list(concepts)
        for concepts, hide in zip(items["concepts"], hidden)
    ]
    return visible


def best_neuron(item_codes: torch.Tensor, carriers: np.ndarray, ks: list[int]) -> int:
    """The neuron of highest purity@K (smallest K first) for the items marked in `carriers`."""
    top = scan(lambda codes: codes, item_codes, max(ks))
    purities = {k: purity(top, carriers[:, None], k) for k in ks}
    return best_neurons(purities, ["concept"])["concept"].neuron


def filtering(study: Study) -> StudyResult:
    settings, concepts = study.settings, study.report.mono.concepts
    concept = settings.filter_concept
    if concept not in concepts:
        concept = max(concepts, key=lambda c: concepts[c].purity[min(concepts[c].purity)])
    matrix, names = study.data.concept_matrix()
    every = matrix[:, names.index(concept)]  # the evaluation's tags, and nothing else's
    hidden = hide_tags(every, settings.hidden_tags, settings.hidden_seed)
    visible_items = without_tag(study.data.items, concept, hidden)
    seen = study.seeing(visible_items)

    device = study.report_users.device
    truth, visible = (torch.as_tensor(column, device=device) for column in (every, every & ~hidden))

    def audience(users: torch.Tensor, carriers: torch.Tensor) -> Lists:
        share = concept_share(carriers, TOP_K)
        lists = seen.lists(users, share, ~carriers, TOP_K)
        return lists.subset(share(lists.before).argsort(descending=True)[: settings.filter_users])

    validation = audience(seen.calibrator.validation_users, visible)
    report = audience(study.report_users, truth)
    neuron = best_neuron(seen.steerer.item_codes.codes, every & ~hidden, sorted(concepts[concept].purity))
    candidates = [
        *suppressions("its neuron", Intervention(neuron, "suppress"), settings.filter_towers),
        *suppressions("its direction", Intervention(concept=concept, op="suppress"), settings.filter_towers),
    ]
    target = Target("concept_share", TOP_K, at_most=settings.filter_max_share, concept=concept)
    result = steer(seen, target, candidates, validation, report, harm="collateral")

    hidden_t = torch.as_tensor(hidden, device=device)
    sae_strength = result.calibration.report.strength
    sae_after = seen.scores(report.users, candidates[result.chosen or 0].at(sae_strength))
    probe_curves, probe_point, inferred = _probe(seen, visible_items, visible, target, validation, report, hidden_t)
    filters = {"visible tags": visible, "visible tags and the probe's": inferred, "every tag, for reference": truth}
    filter_curves = [baselines.metadata_filter(report, items, tags) for tags, items in filters.items()]
    operating = [
        _operating(f"SAE: {result.intervention}", report, sae_after, hidden_t, sae_strength),
        probe_point,
        *(
            _operating(curve.method, report, report.before - baselines.FULL_REMOVAL * items.float()[None], hidden_t)
            for curve, items in zip(filter_curves, filters.values())
        ),
    ]
    details = {
        "hidden_share": settings.hidden_tags,
        "hidden_seed": float(settings.hidden_seed),
        "tagged_items": float(every.sum()),
        "hidden_items": float(hidden.sum()),
        "probe_inferred_items": float((inferred & ~visible).sum()),
        "probe_inferred_hidden": float((inferred & hidden_t).sum()),
        "hidden_in_top_before": float(hidden_t[report.before.topk(report.k, dim=1).indices].sum()),
    }
    return dataclasses.replace(
        result, curves=[*result.curves, *probe_curves, *filter_curves], operating=operating, details=details
    )


def _probe(
    seen: Study,
    visible_items: pd.DataFrame,
    visible: torch.Tensor,
    target: Target,
    validation: Lists,
    report: Lists,
    hidden: torch.Tensor,
) -> tuple[list[Curve], Operating, torch.Tensor]:
    """The linear probe on the visible tags: its curves, its calibrated point, the items it says carry the concept."""
    embeddings = seen.steerer.recommender.item_embeddings().detach()
    probe = LinearProbe.fit(embeddings, visible)
    inferred = visible | (probe.probability(embeddings) >= PROBE_THRESHOLD)
    probing = seen.seeing(visible_items, probe.dictionary())
    candidates = suppressions("the probe's direction", Intervention(0, "suppress"), seen.settings.filter_towers)
    choice = choose(probing, target, candidates, validation, harm="collateral")
    chosen = candidates[choice.index]
    after = probing.scores(report.users, chosen.at(choice.strength))
    point = _operating(f"probe: {chosen.name}", report, after, hidden, choice.strength)
    return [curve(probing, report, candidate, "probe") for candidate in candidates], point, inferred


def _operating(
    method: str, report: Lists, after: torch.Tensor, hidden: torch.Tensor, strength: float | None = None
) -> Operating:
    """A method's point on the report users, and the hidden-tag items it took out of their top-k."""

    def hidden_in_top(scores: torch.Tensor) -> int:
        return int(hidden[scores.topk(report.k, dim=1).indices].sum())

    point = report.measure(after, strength if strength is not None else baselines.FULL_REMOVAL)
    return Operating(method, point, hidden_in_top(report.before) - hidden_in_top(after))
