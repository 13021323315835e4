"""`bpr`: `implicit`'s Bayesian personalised ranking on the split's training pairs (its item bias kept)."""

from monorec.kinds.traits import KindTraits

KIND = KindTraits(
    name="bpr",
    origin="implicit",
    display="BPR",
    code="monorec.recommenders.implicit_models:BPR",
    extra="implicit",
    sized=True,
)
