"""Leave-n-out split: per user, `holdout` random positives go to test, the rest to training.

Choices (seeded, reproducible): held-out positives are drawn uniformly at random per user, not
by time, because timestamps are optional data (a third of our ML-1M copy has none). A user is
tested only if at least `holdout + min_train_positives` positives remain; others stay in
training only. Each test user also gets `test_negatives` distinct items they never interacted
with (neither in training nor in test), for the sampled metrics.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from monorec.data.dataset import InteractionData
from monorec.data.distinct import sample_distinct
from monorec.errors import DataError


def user_csr(users: np.ndarray, items: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, items): user u's items are items[indptr[u]:indptr[u + 1]], sorted.

    One in-place sort of user * span + item keys (span: the largest item + 1), the order
    `np.lexsort((items, users))` gives, ten times faster: at 100 M pairs, seconds instead of
    half a minute.
    """
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
    span = int(items.max()) + 1 if len(items) else 1
    keys = users.astype(np.int64) * span + items
    keys.sort()
    return indptr, np.remainder(keys, span, out=keys).astype(items.dtype, copy=False)


def csr_rows(indptr: torch.Tensor, values: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR rows `rows` gathered without a Python loop: (each value's position in `rows`, the values).

    Each row's values keep their stored order (a history stays a sequence).
    """
    starts, lengths = indptr[rows], indptr[rows + 1] - indptr[rows]
    owner = torch.repeat_interleave(torch.arange(len(rows), device=values.device), lengths)
    offsets = torch.arange(len(owner), device=values.device) - torch.repeat_interleave(
        torch.cumsum(lengths, 0) - lengths, lengths
    )
    return owner, values[torch.repeat_interleave(starts, lengths) + offsets]


NO_PAIRS = np.empty(0, dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class Split:
    """Training pairs, per-user test positives and sampled test negatives (all index arrays).

    A leave-last-out split (`data.sequences`) also has, per test user, the validation item (the
    last of their training pairs, which are grouped by user in time order: `ordered`), and the
    pairs that are seen but have no place in any sequence (`seen_*`: rows without a timestamp),
    which leave every candidate list and are never inputs or targets.
    """

    n_users: int
    n_items: int
    train_users: np.ndarray  # (n_train,)
    train_items: np.ndarray  # (n_train,)
    test_users: np.ndarray  # (n_test_users,)
    test_items: np.ndarray  # (n_test_users, holdout)
    test_negatives: np.ndarray  # (n_test_users, test_negatives)
    ordered: bool = False  # training pairs grouped by user, each user's in time order
    validation_items: np.ndarray | None = None  # (n_test_users,) the item before each test item
    seen_users: np.ndarray = dataclasses.field(default_factory=lambda: NO_PAIRS)  # outside every sequence
    seen_items: np.ndarray = dataclasses.field(default_factory=lambda: NO_PAIRS)

    def train_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, items): user u's training items are items[indptr[u]:indptr[u + 1]], sorted."""
        return self._csr

    @functools.cached_property
    def _csr(self) -> tuple[np.ndarray, np.ndarray]:  # built once: a sort of every training pair
        return user_csr(self.train_users, self.train_items, self.n_users)

    def history_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, items) of each user's training items in time order when `ordered`, else sorted."""
        if not self.ordered:
            return self.train_csr()
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.train_users, minlength=self.n_users), out=indptr[1:])
        return indptr, self.train_items

    def seen_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, items) of every item a user has seen outside the test: training pairs and `seen_*`
        pairs; what leaves their recommendation lists."""
        if not len(self.seen_users):
            return self.train_csr()
        return self._seen

    @functools.cached_property
    def _seen(self) -> tuple[np.ndarray, np.ndarray]:
        users = np.concatenate([self.train_users, self.seen_users])
        return user_csr(users, np.concatenate([self.train_items, self.seen_items]), self.n_users)

    def positives_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, items) of every known positive, training and held-out test items alike."""
        held_out = np.repeat(self.test_users, self.test_items.shape[1])
        users = np.concatenate([self.train_users, self.seen_users, held_out])
        items = np.concatenate([self.train_items, self.seen_items, self.test_items.ravel()])
        return user_csr(users, items, self.n_users)

    def seen_by(self, users: np.ndarray) -> Split:
        """Only the training pairs of `users` and no test data: what masking their lists needs, small
        enough to ship to a remote worker."""
        keep = user_mask(users, self.n_users)[self.train_users]
        seen = user_mask(users, self.n_users)[self.seen_users]
        no_items = np.empty((0, 0), dtype=np.int64)
        return Split(
            self.n_users,
            self.n_items,
            self.train_users[keep],
            self.train_items[keep],
            NO_PAIRS,
            no_items,
            no_items,
            self.ordered,
            seen_users=self.seen_users[seen],
            seen_items=self.seen_items[seen],
        )

    def item_counts(self) -> np.ndarray:
        """Training interactions per item: the popularity used by samplers and the baseline."""
        return np.bincount(self.train_items, minlength=self.n_items)


def user_mask(users: np.ndarray, n_users: int) -> np.ndarray:
    """(n_users,) bool, True at `users`: indexed by a pair array it is np.isin without np.isin's sort
    of the pairs, which at 100 M pairs costs gigabytes."""
    mask = np.zeros(n_users, dtype=bool)
    mask[users] = True
    return mask


def split_dataset(
    data: InteractionData, holdout: int = 5, test_negatives: int = 5, min_train_positives: int = 5, seed: int = 0
) -> Split:
    users, items = data.interactions["user"].to_numpy(), data.interactions["item"].to_numpy()
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(users)), users))  # users grouped, random order within each
    users, items = users[order].astype(np.int64), items[order].astype(np.int64)
    del order  # at 100 M pairs each of these arrays is 0.75 GiB: none outlives its use
    counts = np.bincount(users, minlength=data.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(len(users)) - starts[users]
    eligible = (counts >= holdout + min_train_positives) & (data.n_items - counts >= test_negatives)
    is_test = eligible[users] & (position < holdout)
    test_users = np.flatnonzero(eligible)
    if holdout > 0 and len(test_users) == 0:
        raise DataError(
            f"{data.name}: no user has the {holdout + min_train_positives} positives needed to hold out {holdout}"
        )
    test_items = items[is_test].reshape(len(test_users), holdout)
    negatives = sample_unseen(users, items, test_users, data.n_items, test_negatives, rng)
    return Split(data.n_users, data.n_items, users[~is_test], items[~is_test], test_users, test_items, negatives)


def sample_unseen(
    users: np.ndarray, items: np.ndarray, test_users: np.ndarray, n_items: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """k distinct never-interacted items per test user: uniform draws, rejecting the user's positives."""
    seen = np.sort(users * n_items + items)

    def is_seen(user: np.ndarray, item: np.ndarray) -> np.ndarray:
        keys = user * n_items + item
        return seen[np.searchsorted(seen, keys).clip(max=len(seen) - 1)] == keys

    def draw(rows: np.ndarray, n: int) -> np.ndarray:
        drawn = rng.integers(0, n_items, (len(rows), n))
        return np.where(is_seen(test_users[rows][:, None], drawn), -1, drawn)

    def exact(rows: np.ndarray) -> np.ndarray:  # users who have seen nearly every item: rank all of them
        every = np.arange(n_items)
        keys = np.where(is_seen(test_users[rows][:, None], every[None, :]), np.inf, rng.random((len(rows), n_items)))
        return np.argpartition(keys, k - 1, axis=1)[:, :k]

    if k == 0 or len(test_users) == 0:
        return np.empty((len(test_users), k), dtype=np.int64)
    return sample_distinct(len(test_users), k, draw, exact)


@dataclasses.dataclass(frozen=True)
class UserFolds:
    """Disjoint user folds for the SAE (sorted user indices; docs/method.md §4).

    train: every user whose pairs the SAE trains on (all users outside the two folds below,
        including those with too few positives to be tested);
    validation: test users for per-epoch checks and the search's objective;
    report: test users for every fidelity and steering number reported.
    """

    train: np.ndarray
    validation: np.ndarray
    report: np.ndarray

    def train_rows(self, split: Split) -> np.ndarray:
        """The rows of the split's training pairs whose user is in the SAE-train fold (int32: at 100 M
        pairs, half a gigabyte less at the SAE's peak)."""
        return np.flatnonzero(user_mask(self.train, split.n_users)[split.train_users]).astype(np.int32)


def split_users(
    split: Split, validation_share: float, report_share: float, seed: int = 0, max_fold_users: int | None = None
) -> UserFolds:
    """Draw validation and report folds from the test users (seeded); everyone else trains the SAE.

    `max_fold_users` caps each held-out fold, so that measuring and steering on it costs the
    same on a catalogue of millions of users as on ML-1M; the users beyond it train the SAE.
    """
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(split.test_users)
    cap = len(shuffled) if max_fold_users is None else max_fold_users
    n_validation = min(round(validation_share * len(shuffled)), cap)
    n_report = min(round(report_share * len(shuffled)), cap)
    validation = np.sort(shuffled[:n_validation])
    report = np.sort(shuffled[n_validation : n_validation + n_report])
    held_out = np.concatenate([validation, report])
    train = np.setdiff1d(np.arange(split.n_users), held_out)
    return UserFolds(train, validation, report)
