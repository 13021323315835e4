"""Steering recommendations through named SAE neurons, without touching the model's weights."""

from monorec.interventions.recipes import filtering, popularity_control, promotion
from monorec.interventions.steering import Intervention, Steerer, apply_op

__all__ = ["Intervention", "Steerer", "apply_op", "filtering", "popularity_control", "promotion"]
