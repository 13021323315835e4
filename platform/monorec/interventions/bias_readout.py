"""Where a model keeps popularity in item biases (MF), an item edit must move the bias too: its read-out.

Steering (`monorec.interventions.steering`) adds an item edit's decoded change to the item's
embedding; a bias is not in the embedding, so the edit's change of the popularity neurons is read
out into a bias shift by the linear map fitted here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch


@dataclasses.dataclass(frozen=True)
class BiasReadout:
    """Item bias as a linear function of the popularity neurons' codes: b_i ≈ c0 + z_i[P] · c (least squares).

    P are the neurons of the popularity direction: popularity lives largely in the biases, and
    an item edit that changes z_i by Δz moves its bias by Δz[P] · c. Other neurons are left out
    because their coefficients are confounded (on Last.FM MF most coefficients of a read-out from
    all neurons were negative, so boosting any genre on an item lowered its bias and buried it).
    `weights` is (m,), zero outside P; `r2` says how much of the biases' variance P explains.
    """

    weights: torch.Tensor  # (m,)
    r2: float

    @classmethod
    def fit(
        cls, item_codes: torch.Tensor, biases: torch.Tensor, neurons: Sequence[int], ridge: float = 1e-3
    ) -> BiasReadout:
        codes = item_codes[:, list(neurons)]
        design = torch.cat([codes, torch.ones(len(codes), 1, device=codes.device)], dim=1).double()
        gram = design.T @ design + ridge * torch.eye(design.shape[1], device=design.device, dtype=design.dtype)
        solution = torch.linalg.solve(gram, design.T @ biases.double())
        residual = biases.double() - design @ solution
        r2 = 1 - residual.pow(2).sum() / (biases.double() - biases.double().mean()).pow(2).sum().clamp(min=1e-12)
        weights = torch.zeros(item_codes.shape[1], device=item_codes.device)
        weights[list(neurons)] = solution[:-1].float()
        return cls(weights, float(r2))
