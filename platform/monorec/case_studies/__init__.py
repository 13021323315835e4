"""The case studies of docs/method.md §5: chosen and calibrated on validation users, reported on report users.

    filtering   a concept out of the lists of the users with the most of it, with part of its
                tags hidden from everything but the evaluation (`filtering`)
    promotion   one item into the lists of an audience whose taste is elsewhere (`promotion`)
    popularity  more of the long tail for every user (`popularity`)

Each is declared once (`spec.StudySpec`: its measure, harm, targets, matching rule and SAE-free
methods) beside the code that runs it; `SPECS` registers them, in the page's order. What they
share (candidates, choosing one, curves) is `context`. They steer through the controls of
`monorec.interventions`, the same ones a service applies.
"""

from __future__ import annotations

import numpy as np
import torch

from monorec.case_studies.context import Study
from monorec.case_studies.filtering import FILTERING
from monorec.case_studies.popularity import POPULARITY
from monorec.case_studies.promotion import PROMOTION
from monorec.case_studies.spec import StudySpec
from monorec.config import CaseStudyConfig
from monorec.data import InteractionData, Split
from monorec.interpret import NeuronReport
from monorec.interventions.calibration import Calibrator
from monorec.recommenders.fold_in import FoldIn
from monorec.results import CaseStudies

SPECS: dict[str, StudySpec] = {spec.name: spec for spec in (FILTERING, PROMOTION, POPULARITY)}


def run_case_studies(
    calibrator: Calibrator,
    data: InteractionData,
    split: Split,
    report: NeuronReport,
    settings: CaseStudyConfig,
    report_users: np.ndarray,
    fold_in: FoldIn,
) -> CaseStudies:
    """The studies in `settings.studies` that this data can run, by name (`fold_in`: the model kind's)."""
    device = calibrator.validation_users.device
    study = Study(calibrator, data, split, report, torch.as_tensor(report_users, device=device), settings, fold_in)
    results = {name: spec.result(study) for name, spec in SPECS.items() if name in settings.studies}
    return {name: result for name, result in results.items() if result is not None}


__all__ = ["SPECS", "StudySpec", "run_case_studies"]
