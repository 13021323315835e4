"""`mf`, the paper's main model: sigmoid(b + b_u + b_i + e_u . e_i), trained by monorec with BCE."""

from monorec.kinds.traits import KindTraits

KIND = KindTraits(
    name="mf",
    origin="monorec",
    display="MF",
    code="monorec.recommenders.mf:SPEC",
    paper=True,
    ray_train=True,
    sparse_embeddings=True,
)
