"""Folding in a user the model never saw: an embedding fitted to their history against the frozen items.

The item tower, its biases and every weight stay as trained; only the new user's embedding x is
fitted, with the history H's items as positives (docs/method.md §1):

    `ClosedForm` (ALS, LightGCN's final embeddings)
        x = argmin  sum_{i in H} (1 - x . y_i)^2 + sum_{i not in H} (x . y_i)^2 + lambda |x|^2
          = (Y^T Y + lambda I)^-1 sum_{i in H} y_i
        for ALS exactly `implicit`'s own refit of a user (`recalculate_user`) on the binary matrix
        it was trained on (confidence 1 on every positive), lambda its regularisation; for
        LightGCN `LEAST_SQUARES` (lambda 1).
    `Newton` (MF, BPR, factor files: dot products plus item biases)
        the class-balanced logistic loss monorec trains MF with (one uniform negative per positive),
        item and global biases as trained, (lambda / 2) |x|^2 (`NEWTON`: lambda 10), minimised by 3
        Newton steps from x = 0, each in closed form.
    `Gradient` (NCF, your own towers: any score function)
        the same class-balanced logistic loss through the frozen scorer, plus lambda |x - mean|^2,
        by `GRADIENT.steps` Adam steps from the mean user embedding.

Each kind's choice and constants were picked on ML-1M's validation users (`KindSpec.fold_in`).
A kind whose user tower is a function of the history fits nothing: it places a new user by one
forward pass of that tower (`monorec.recommenders.history.Forward`).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Protocol

import torch

from monorec.recommenders.base import TwoTowerRecommender

CHUNK_BYTES = 32 * 2**20  # what one chunk of a batched fit may hold in its largest temporary


class FoldIn(Protocol):
    """A user's embedding from their history (item indices), against a frozen model."""

    quick: ClassVar[bool]  # about a millisecond (closed forms): a service may run it on its event loop

    def __call__(self, model: TwoTowerRecommender, history: torch.Tensor) -> torch.Tensor: ...


def fold_in_many(fold_in: FoldIn, model: TwoTowerRecommender, histories: list[torch.Tensor]) -> torch.Tensor:
    """(len(histories), d): several users at once (a service batches concurrent requests this way).

    A fold-in may place many users at once with a method `many(model, histories)` (monorec's own
    do); one without it, e.g. a kind registered at run time, places them one after the other.
    """
    many = getattr(fold_in, "many", None)
    if many is not None:
        return many(model, histories)
    return torch.stack([fold_in(model, history) for history in histories])


@dataclasses.dataclass(frozen=True)
class ClosedForm:
    """Implicit-feedback least squares (Hu, Koren & Volinsky 2008), every item not in H at weight w0.

    x = (w0 Y^T Y + (1 - w0) Y_H^T Y_H + lambda I)^-1 Y_H^T 1; ALS's own refit is w0 = 1.
    """

    regularization: float
    negative_weight: float = 1.0
    quick: ClassVar[bool] = True  # about a millisecond: a service may run it on its event loop

    def __call__(self, model: TwoTowerRecommender, history: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            items = model.item_embeddings().double()
            positives = items[history]
            gram = self.negative_weight * items.T @ items + (1 - self.negative_weight) * positives.T @ positives
            gram += self.regularization * torch.eye(items.shape[1], dtype=items.dtype, device=items.device)
            return torch.linalg.solve(gram, positives.sum(0)).to(model.item_embeddings().dtype)


@dataclasses.dataclass(frozen=True)
class Newton:
    """The class-balanced logistic loss of MF's own training plus (lambda / 2) |x|^2, minimised by Newton (IRLS).

    For a dot-product score s_i = o_i + x . y_i (o_i: the item's bias and the global bias, read
    as the model's logits at x = 0), with labels l_i (1 on the history) and weights w_i (1 on
    the history, |H| / (n - |H|) elsewhere: one uniformly drawn negative per positive, as
    monorec trains MF), each step solves
        (Y^T diag(w p (1 - p)) Y + lambda I) dx = -(Y^T (w (p - l)) + lambda x),   p = sigmoid(s).
    """

    regularization: float
    steps: int = 3
    quick: ClassVar[bool] = True

    def __call__(self, model: TwoTowerRecommender, history: torch.Tensor) -> torch.Tensor:
        return self.many(model, [history])[0]

    def many(self, model: TwoTowerRecommender, histories: list[torch.Tensor]) -> torch.Tensor:
        """Several users' Newton steps at once: one (B, d, d) batched solve per step, B users of a
        chunk whose (B, d, n) curvature product stays within `CHUNK_BYTES`."""
        n, dim = model.item_embeddings().shape
        chunk = max(1, CHUNK_BYTES // (4 * n * dim))
        chunks = [histories[start : start + chunk] for start in range(0, len(histories), chunk)]
        return torch.cat([self._fit(model, part) for part in chunks])

    def _fit(self, model: TwoTowerRecommender, histories: list[torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            items = model.item_embeddings()
            n, dim = items.shape
            offset = model.logits_all(None, items.new_zeros(1, dim), items)[0]
            labels = torch.zeros(len(histories), n, device=items.device)
            for row, history in enumerate(histories):
                labels[row, history.to(items.device)] = 1.0
            positives = labels.sum(1, keepdim=True)
            weights = torch.where(labels > 0, 1.0, positives / (n - positives).clamp(min=1))
            x = items.new_zeros(len(histories), dim)
            ridge = self.regularization * torch.eye(dim, device=items.device)
            for _ in range(self.steps):
                p = torch.sigmoid(offset + x @ items.T)
                gradient = self.regularization * x + (weights * (p - labels)) @ items
                curvature = weights * p * (1 - p)
                hessian = ridge + (curvature[:, None, :] * items.T) @ items  # (B, d, d)
                x = x - torch.linalg.solve(hessian, gradient)
            return x


@dataclasses.dataclass(frozen=True)
class Gradient:
    """A few Adam steps on the frozen scorer from the mean user; `regularization` pulls toward that mean."""

    steps: int = 10
    lr: float = 0.2
    regularization: float = 1e-3
    quick: ClassVar[bool] = False  # tens of milliseconds of autograd: off the event loop

    def __call__(self, model: TwoTowerRecommender, history: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            items, start = model.item_embeddings(), model.user_embeddings().mean(0)
            labels = torch.zeros(model.n_items, device=items.device)
            labels[history] = 1.0
            weights = torch.where(labels > 0, 0.5 / labels.sum(), 0.5 / (model.n_items - labels.sum()))
        with torch.enable_grad():  # callers score under no_grad; this fit needs the gradient through the scorer
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


NEWTON = Newton(regularization=10.0)  # MF, BPR, factor files (module docstring)
LEAST_SQUARES = ClosedForm(regularization=1.0)  # LightGCN: its BPR-trained embeddings have no biases
GRADIENT = Gradient()  # NCF, your own towers
