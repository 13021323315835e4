"""The interaction-aware SAE: one dictionary shared by user and item embeddings.

    x     = (e - mean(e)) / std(e)              per vector; mean and std kept to de-normalise
    z     = act(W (x - b_pre) + b_lat)          W: m x d, the encoder
    x_hat = W_dec z + b_pre                      W_dec = W^T when tied (the default)
    e_hat = x_hat * std + mean

Matryoshka: `decode(..., n_latents=m_k)` uses only the first m_k latents, so each prefix is a
complete, coarser dictionary of its own. `sae.normalize: false` skips the per-vector
standardisation (mean 0, std 1 throughout); `sae.frozen` keeps an untied SAE's encoder or
decoder at its random initialisation.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from monorec.config import ExperimentConfig, SAEConfig
from monorec.sae.activations import build_activation

EPS = 1e-6


@dataclasses.dataclass
class Encoded:
    """Codes plus what decoding needs to return to the recommender's embedding space."""

    codes: torch.Tensor  # (batch, m)
    mean: torch.Tensor  # (batch, 1)
    std: torch.Tensor  # (batch, 1)


class SparseAutoencoder(nn.Module):
    def __init__(self, embedding_dim: int, config: SAEConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding_dim, self.n_latents = embedding_dim, config.n_latents
        encoder = torch.empty(config.n_latents, embedding_dim)
        nn.init.kaiming_uniform_(encoder, a=5**0.5)
        self.encoder = nn.Parameter(encoder)
        self.decoder = None if config.tied else nn.Parameter(encoder.T.clone())
        self.pre_bias = nn.Parameter(torch.zeros(embedding_dim))
        self.latent_bias = nn.Parameter(torch.zeros(config.n_latents))
        self.activation = build_activation(config)
        self.prefixes = list(config.matryoshka) or [config.n_latents]
        if config.frozen == "encoder":
            self.encoder.requires_grad_(False)
        elif config.frozen == "decoder":
            self.decoder.requires_grad_(False)

    def decoder_weight(self) -> torch.Tensor:
        """(d, m): column j is neuron j's direction in normalised embedding space."""
        return self.encoder.T if self.decoder is None else self.decoder

    def pre_activations(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not self.config.normalize:
            ones = embeddings.new_ones(*embeddings.shape[:-1], 1)
            return (embeddings - self.pre_bias) @ self.encoder.T + self.latent_bias, ones - 1, ones
        mean = embeddings.mean(-1, keepdim=True)
        centered = embeddings - mean
        # The population std written out: torch.std over a short last axis took a third of an SAE
        # epoch on CPU (forward and backward), this takes well under half of that.
        std = centered.pow(2).mean(-1, keepdim=True).sqrt() + EPS
        return (centered / std - self.pre_bias) @ self.encoder.T + self.latent_bias, mean, std

    def encode(self, embeddings: torch.Tensor) -> Encoded:
        pre, mean, std = self.pre_activations(embeddings)
        return Encoded(self.activation(pre), mean, std)

    def decode(self, encoded: Encoded, n_latents: int | None = None) -> torch.Tensor:
        """Embeddings rebuilt from the codes (optionally from the first `n_latents` only)."""
        m = n_latents or self.n_latents
        x_hat = encoded.codes[:, :m] @ self.decoder_weight()[:, :m].T + self.pre_bias
        return x_hat * encoded.std + encoded.mean

    def forward(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, Encoded]:
        encoded = self.encode(embeddings)
        return self.decode(encoded), encoded


def build_sae(config: ExperimentConfig, embedding_dim: int) -> SparseAutoencoder:
    """A freshly initialised SAE for `config`: the same `sae_train.seed` always gives the same weights.

    The one place an SAE is seeded and built, so a run, a search trial and a Ray Train worker
    given the same config start from identical weights.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.sae_train.seed)
        return SparseAutoencoder(embedding_dim, config.sae)
