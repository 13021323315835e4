"""The paper's beta ablation on ML-1M (docs/method.md §6), below every layer that draws it.

The search marks these points beside its Pareto front (`plots/pareto_paper.png`), and the
search sits in the reproduction's layer, so it cannot import `monorec.reproduction.paper`,
which holds the paper's other numbers.
"""

BETA_ABLATION = {  # cell -> beta -> (RBO@20, Kendall tau@20, MS)
    "ml1m_mf": {0.0: (0.62, 0.45, 0.38), 0.1: (0.78, 0.61, 0.82), 1.0: (0.85, 0.72, 0.65)},
}
