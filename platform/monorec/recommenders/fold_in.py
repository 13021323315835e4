"""Folding in a user the model never saw: an embedding fitted to their history against the frozen items.

The item tower, its biases and every weight stay as trained; only the new user's embedding x is
fitted, with the history H's items as positives (docs/method.md §1):

    ALS (`ClosedForm`)
        x = argmin  sum_{i in H} (1 - x . y_i)^2 + sum_{i not in H} (x . y_i)^2 + lambda |x|^2
          = (Y^T Y + lambda I)^-1 sum_{i in H} y_i
        exactly `implicit`'s own refit of a user (`recalculate_user`) on the binary matrix it was
        trained on (confidence 1 on every positive), lambda its regularisation.
    other dot-product kinds: MF, BPR, LightGCN's final embeddings, factor files (`Newton`)
        the class-balanced logistic loss monorec trains MF with (one uniform negative per positive),
        item and global biases as trained, lambda |x|^2 (`DOT_PRODUCT`: lambda 10, chosen on the
        validation users of ML-1M MF), minimised by 5 Newton steps from x = 0, each in closed form.
    any score function: NCF, your own towers (`Gradient`)
        the same class-balanced logistic loss through the frozen scorer, plus lambda |x - mean|^2,
        by `GRADIENT.steps` Adam steps from the mean user embedding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from monorec.recommenders.base import TwoTowerRecommender

FoldIn = Callable[[TwoTowerRecommender, torch.Tensor], torch.Tensor]  # (model, history item indices) -> embedding


@dataclasses.dataclass(frozen=True)
class ClosedForm:
    """Implicit-feedback least squares (Hu, Koren & Volinsky 2008), every item not in H at weight w0.

    x = (w0 Y^T Y + (1 - w0) Y_H^T Y_H + lambda I)^-1 Y_H^T 1; ALS's own refit is w0 = 1.
    """

    regularization: float
    negative_weight: float = 1.0

    def __call__(self, model: TwoTowerRecommender, history: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            items = model.item_embeddings().double()
            positives = items[history]
            gram = self.negative_weight * items.T @ items + (1 - self.negative_weight) * positives.T @ positives
            gram += self.regularization * torch.eye(items.shape[1], dtype=items.dtype, device=items.device)
            return torch.linalg.solve(gram, positives.sum(0)).to(model.item_embeddings().dtype)


@dataclasses.dataclass(frozen=True)
class Newton:
    """The class-balanced logistic loss of MF's own training, minimised over x by Newton's method (IRLS).

    For a dot-product score s_i = o_i + x . y_i (o_i: the item's bias and the global bias, read
    as the model's logits at x = 0), with labels l_i (1 on the history) and weights w_i (1 on
    the history, |H| / (n - |H|) elsewhere: one uniformly drawn negative per positive, as
    monorec trains MF), each step solves
        (Y^T diag(w p (1 - p)) Y + lambda I) dx = -(Y^T (w (p - l)) + lambda x),   p = sigmoid(s).
    """

    regularization: float
    steps: int = 5

    def __call__(self, model: TwoTowerRecommender, history: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            items = model.item_embeddings()
            dim = items.shape[1]
            offset = model.logits_all(None, items.new_zeros(1, dim), items)[0].double()
            items = items.double()
            labels = torch.zeros(len(items), dtype=torch.float64, device=items.device)
            labels[history] = 1.0
            weights = torch.where(labels > 0, 1.0, len(history) / max(1, len(items) - len(history)))
            x = torch.zeros(dim, dtype=torch.float64, device=items.device)
            ridge = self.regularization * torch.eye(dim, dtype=torch.float64, device=items.device)
            for _ in range(self.steps):
                p = torch.sigmoid(offset + items @ x)
                gradient = items.T @ (weights * (p - labels)) + self.regularization * x
                hessian = (items * (weights * p * (1 - p))[:, None]).T @ items + ridge
                x = x - torch.linalg.solve(hessian, gradient)
            return x.to(model.item_embeddings().dtype)


@dataclasses.dataclass(frozen=True)
class Gradient:
    """A few Adam steps on the frozen scorer from the mean user; `regularization` pulls toward that mean."""

    steps: int = 50
    lr: float = 0.05
    regularization: float = 1e-3

    def __call__(self, model: TwoTowerRecommender, history: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            items, start = model.item_embeddings(), model.user_embeddings().mean(0)
            labels = torch.zeros(model.n_items, device=items.device)
            labels[history] = 1.0
            weights = torch.where(labels > 0, 0.5 / labels.sum(), 0.5 / (model.n_items - labels.sum()))
        user = start.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([user], lr=self.lr)
        for _ in range(self.steps):
            optimiser.zero_grad()
            logits = model.logits_all(None, user[None], items)[0]
            loss = (
                weights * torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
            ).sum()
            (loss + self.regularization * (user - start).pow(2).sum()).backward()
            optimiser.step()
        return user.detach()


DOT_PRODUCT = Newton(regularization=10.0)  # MF, BPR, LightGCN, factor files (module docstring)
GRADIENT = Gradient()  # NCF, your own towers
