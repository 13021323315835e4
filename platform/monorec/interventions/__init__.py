"""Steering recommendations through named SAE neurons, without touching the model's weights."""

from monorec.interventions.calibration import Calibrator, UnreachableTargetError
from monorec.interventions.steering import Intervention, Steerer
from monorec.interventions.targets import Target

__all__ = ["Calibrator", "Intervention", "Steerer", "Target", "UnreachableTargetError"]
