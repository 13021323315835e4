"""Naming and measuring SAE neurons: purity, labels, popularity and decade neurons, MS, reports."""

from monorec.interpret.concepts import Concepts, item_concepts
from monorec.interpret.report import NeuronReport, interpret_sae, write_report

__all__ = ["Concepts", "NeuronReport", "interpret_sae", "item_concepts", "write_report"]
