"""The interaction-aware sparse autoencoder: model, activations, losses, training, persistence."""

from monorec.sae.model import Encoded, SparseAutoencoder, build_sae
from monorec.sae.persistence import load_sae, save_sae
from monorec.sae.training import dead_ratio, reconstructed_scorer, train_sae

__all__ = [
    "Encoded",
    "SparseAutoencoder",
    "build_sae",
    "dead_ratio",
    "load_sae",
    "reconstructed_scorer",
    "save_sae",
    "train_sae",
]
