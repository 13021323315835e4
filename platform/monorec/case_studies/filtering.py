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

from monorec.case_studies.context import TOP_K, Study, baseline_curve, choose, curve, steer, suppressions
from monorec.case_studies.spec import Baseline, BelowMethod, Bound, Matching, MinCollateral, StudySpec
from monorec.interpret.neurons import best_neurons, purity
from monorec.interventions.controls import Control, Scorer, metadata_filter
from monorec.interventions.directions import LinearProbe
from monorec.interventions.effects import Lists, concept_share
from monorec.interventions.steering import Intervention
from monorec.interventions.targets import Target
from monorec.results import Curve, Operating, Source, StudyResult
from monorec.sae.scan import scan

PROBE_THRESHOLD = 0.5  # a class-balanced probe's even odds: items above it are inferred to carry the concept
FILTER_GAMMAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 1e9)  # the last removes the filtered items outright
MIN_COLLATERAL = 0.6  # the page's target: the rest of the audience's lists kept at collateral RBO >= 0.6
VISIBLE_FILTER = "metadata filter (visible tags)"


@dataclasses.dataclass(frozen=True)
class Tags:
    """Per item (bool tensors): the concept's visible tags, those plus the probe's inferred ones, and every tag."""

    visible: torch.Tensor
    inferred: torch.Tensor
    every: torch.Tensor


def visible_filter(tags: Tags, base: Scorer) -> Control:
    return metadata_filter(base, tags.visible)


def probe_filter(tags: Tags, base: Scorer) -> Control:
    return metadata_filter(base, tags.inferred)


def every_tag_filter(tags: Tags, base: Scorer) -> Control:
    return metadata_filter(base, tags.every)


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


def filtering(spec: StudySpec, study: Study) -> StudyResult | None:
    settings, concepts = study.settings, study.report.mono.concepts
    if not concepts:
        return None
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
    result = steer(seen, spec, target, candidates, validation, report)

    hidden_t = torch.as_tensor(hidden, device=device)
    sae_strength = result.calibration.report.strength
    sae_after = seen.scores(report.users, candidates[result.chosen or 0].at(sae_strength))
    probed = _probe(seen, spec, visible_items, visible, target, validation, report, hidden_t)
    probe_curves, probe_point, inferred = probed
    tags = Tags(visible, inferred, truth)
    filter_curves, filter_points = [], []
    for baseline in spec.baselines:
        filter_curves.append(baseline_curve(baseline, tags, report))
        removed = baseline.build(tags, report.unedited).scores(report.users, baseline.grid[-1])
        filter_points.append(_operating(baseline.name, baseline.source, report, removed, hidden_t, baseline.grid[-1]))
    operating = [
        _operating(result.intervention, "sae", report, sae_after, hidden_t, sae_strength),
        probe_point,
        *filter_points,
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
    spec: StudySpec,
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
    choice = choose(probing, spec, target, candidates, validation)
    chosen = candidates[choice.index]
    after = probing.scores(report.users, chosen.at(choice.strength))
    point = _operating(chosen.name, "probe", report, after, hidden, choice.strength)
    return [curve(probing, report, candidate, "probe") for candidate in candidates], point, inferred


def _operating(
    method: str, source: Source, report: Lists, after: torch.Tensor, hidden: torch.Tensor, strength: float
) -> Operating:
    """A method's point on the report users, and the hidden-tag items it took out of their top-k."""

    def hidden_in_top(scores: torch.Tensor) -> int:
        return int(hidden[scores.topk(report.k, dim=1).indices].sum())

    point = report.measure(after, strength)
    return Operating(method, source, point, hidden_in_top(report.before) - hidden_in_top(after))


FILTERING = StudySpec(
    name="filtering",
    measure="concept_share",
    measure_label="concept share (every tag)",
    effect_label="share",
    lower_is_better=True,
    chosen_by="collateral",
    harm="collateral",
    targets=(Bound("share"), MinCollateral(MIN_COLLATERAL), BelowMethod(VISIBLE_FILTER, "visible-tag filter")),
    matching=Matching(effect=True, floor=MIN_COLLATERAL),
    run=filtering,
    baselines=(
        Baseline(VISIBLE_FILTER, visible_filter, FILTER_GAMMAS),
        Baseline("metadata filter (visible tags and the probe's)", probe_filter, FILTER_GAMMAS),
        Baseline("metadata filter (every tag, for reference)", every_tag_filter, FILTER_GAMMAS, source="reference"),
    ),
)
