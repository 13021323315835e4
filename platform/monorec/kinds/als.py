"""`als`: `implicit`'s alternating least squares on the split's training pairs, `model.embedding_dim` factors."""

from monorec.kinds.traits import KindTraits

KIND = KindTraits(
    name="als",
    origin="implicit",
    display="ALS",
    code="monorec.recommenders.implicit_models:ALS",
    extra="implicit",
    sized=True,
)
