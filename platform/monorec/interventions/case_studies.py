"""The three case studies of docs/method.md §5: chosen and calibrated on validation users, reported on report users.

    filtering   a concept out of the lists of the users with the most of it, with part of its
                tags hidden from everything but the evaluation (`interventions.filtering`)
    promotion   one item into the lists of an audience whose taste is elsewhere (`interventions.promotion`)
    popularity  more of the long tail for every user (`interventions.popularity`)

Each study's shared machinery (candidates, choosing one, curves) is `interventions.study`.
"""

from __future__ import annotations

import numpy as np
import torch

from monorec.config import CaseStudyConfig
from monorec.data import InteractionData, Split
from monorec.interpret import NeuronReport
from monorec.interventions.calibration import Calibrator
from monorec.interventions.filtering import filtering
from monorec.interventions.popularity import popularity
from monorec.interventions.promotion import promotion
from monorec.interventions.study import Study
from monorec.results import CaseStudies


def case_studies(
    calibrator: Calibrator,
    data: InteractionData,
    split: Split,
    report: NeuronReport,
    settings: CaseStudyConfig,
    report_users: np.ndarray,
) -> CaseStudies:
    """Filtering, promotion (where the data has the concept) and popularity control, those in `settings.studies`."""
    device = calibrator.validation_users.device
    study = Study(calibrator, data, split, report, torch.as_tensor(report_users, device=device), settings)
    concepts, wanted = report.mono.concepts, set(settings.studies)
    return CaseStudies(
        filtering=filtering(study) if concepts and "filtering" in wanted else None,
        promotion=promotion(study) if settings.promote_concept in concepts and "promotion" in wanted else None,
        popularity=popularity(study) if "popularity" in wanted else None,
    )
