"""torch's SparseAdam update, done with row gathers and scatters instead of sparse-tensor arithmetic.

`torch.optim.SparseAdam` adds each update into the dense moments and weights as a sparse tensor
(`sparse_mask`, then a sparse `add_`), which on CPU costs more than the model's forward and
backward together: at 1 M users two thirds of a step (`benchmarks/bench_scale.py`). Reading the
touched rows with `index_select` and writing them back with `index_copy_` (the coalesced
gradient's rows are unique) runs the same floating-point operations in the same order, so the
weights and moments come out bit-identical, in half the time; the state is SparseAdam's, so
checkpoints of either load into the other.
"""

from __future__ import annotations

import math

import torch


class IndexedSparseAdam(torch.optim.SparseAdam):
    """Lazy Adam for embedding tables with sparse gradients: only the rows a batch touched move."""

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["step"] += 1  # counted even for an empty gradient, as SparseAdam counts it
                grad = -param.grad if group.get("maximize", False) else param.grad
                grad = grad.coalesce()  # the update is non-linear: one value per row
                rows, values = grad._indices()[0], grad._values()
                if values.numel() == 0:
                    continue
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                old_avg, old_avg_sq = exp_avg.index_select(0, rows), exp_avg_sq.index_select(0, rows)
                # old <- old + (1 - b) * (new - old), as SparseAdam computes it
                avg = values.sub(old_avg).mul_(1 - beta1).add_(old_avg)
                avg_sq = values.pow(2).sub_(old_avg_sq).mul_(1 - beta2).add_(old_avg_sq)
                exp_avg.index_copy_(0, rows, avg)
                exp_avg_sq.index_copy_(0, rows, avg_sq)
                correction1, correction2 = 1 - beta1 ** state["step"], 1 - beta2 ** state["step"]
                step_size = group["lr"] * math.sqrt(correction2) / correction1
                update = avg.div_(avg_sq.sqrt_().add_(group["eps"])).mul_(-step_size)
                param.index_copy_(0, rows, param.index_select(0, rows).add_(update))
