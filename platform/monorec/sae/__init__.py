"""The interaction-aware sparse autoencoder: model, activations, losses, training, persistence."""

from monorec.sae.model import Encoded, SparseAutoencoder
from monorec.sae.persistence import load_sae, save_sae
from monorec.sae.training import SAETrainResult, dead_ratio, reconstructed_scorer, train_sae

__all__ = [
    "Encoded",
    "SAETrainResult",
    "SparseAutoencoder",
    "dead_ratio",
    "load_sae",
    "reconstructed_scorer",
    "save_sae",
    "train_sae",
]
