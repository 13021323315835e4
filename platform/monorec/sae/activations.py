"""SAE activations behind one interface: pre-activations (batch, m) in, sparse codes out.

ReLU is the paper's choice (sparsity comes from the L1/KL terms). TopK keeps the k largest
pre-activations of each vector (RecSAE, OpenAI's SAEs); BatchTopK keeps the k x batch largest
over the whole batch, so vectors may use more or fewer than k latents while the average is k.
"""

from __future__ import annotations

import torch
from torch import nn

from monorec.config import SAEConfig


class ReLU(nn.Module):
    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre)


def keep_top_k(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Zero all but the k largest entries of each row (and any negative ones among them)."""
    values, indices = pre.topk(k, dim=-1)
    return torch.zeros_like(pre).scatter(-1, indices, torch.relu(values))


class TopK(nn.Module):
    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        return keep_top_k(pre, self.k)


class BatchTopK(nn.Module):
    """At inference a single vector behaves like TopK with the same k, so codes stay comparable."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        if not self.training or pre.dim() == 1:
            return keep_top_k(pre, self.k)
        return keep_top_k(pre.flatten(), self.k * pre.shape[0]).view_as(pre)


def build_activation(config: SAEConfig) -> nn.Module:
    if config.activation == "relu":
        return ReLU()
    if config.activation == "topk":
        return TopK(config.k)
    return BatchTopK(config.k)
