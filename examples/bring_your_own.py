"""Bring your own model: train ALS with `implicit`, hand its factors to monorec, explain and steer it.

    pip install -e '.[implicit]'
    MONOREC_DATA_DIR=../shared/data python examples/bring_your_own.py   # 22 s on a 2-core CPU

Prints the neuron the SAE dedicates to Horror (its purity and top movies) and one Horror fan's
top-10 before and after suppressing that neuron. Any model scored by a dot product works the
same way: put its factors in `FactorModel.from_factors`, rows in the dataset's index order
(`data.user_ids` / `data.item_ids`); for factors in files or your own PyTorch towers, see
`model.kind: embeddings | module` in the README.
"""

import numpy as np
import torch
from implicit.cpu.als import AlternatingLeastSquares
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

from monorec.config import DataConfig, InterpretConfig, SAEConfig, SAETrainConfig
from monorec.data import load_split
from monorec.evaluation.ranking import mask_training_items
from monorec.interpret import interpret_sae
from monorec.interventions import Intervention, Steerer
from monorec.recommenders import FactorModel
from monorec.sae import SparseAutoencoder, train_sae

# 1. Your model, trained your way: ALS on MovieLens-1M's training interactions.
data, split = load_split(DataConfig(dataset="ml1m"))
indptr, items = split.train_csr()
user_items = csr_matrix((np.ones(len(items), np.float32), items, indptr), shape=(data.n_users, data.n_items))
with threadpool_limits(1, "blas"):  # implicit's advice: it runs its own threads
    als = AlternatingLeastSquares(factors=20, random_state=0)
    als.fit(user_items, show_progress=False)

# 2. Hand its factors to monorec and train the SAE through it (the paper's defaults, m = 22).
model = FactorModel.from_factors("als", als.user_factors, als.item_factors)
torch.manual_seed(0)
sae = SparseAutoencoder(model.embedding_dim, SAEConfig(n_latents=22))
train_sae(sae, model, split, SAETrainConfig(epochs=18, batch_size=8192, lr=0.02))
report = interpret_sae(sae, model, data, InterpretConfig())

# 3. The Horror neuron.
horror = report.mono.concepts["Horror"]
top_items = report.neurons.set_index("neuron").loc[horror.neuron, "top_items"].split("; ")
print(f"Horror neuron: {horror.neuron}  purity@10 {horror.purity[10]:.2f}  labelled {report.labels.get('Horror')}")
print("  top movies:", "; ".join(top_items[:5]))

# 4. A Horror fan's top-10, as ALS ranks it and with the Horror neuron suppressed.
steerer = Steerer(model, sae, report.labels, data.item_ids)
fan = torch.tensor([int(steerer.user_codes.codes[:, horror.neuron].argmax())])
is_horror = np.array(["Horror" in concepts for concepts in data.items["concepts"]])
seen = [torch.as_tensor(a) for a in split.train_csr()]
for title, edits in (("ALS", []), ("ALS, Horror suppressed", [Intervention("Horror", "suppress", 2.0, "user")])):
    top10 = mask_training_items(steerer.scores(fan, edits), fan, *seen)[0].topk(10).indices.numpy()
    print(f"\n{title}: {is_horror[top10].sum()} of 10 are Horror")
    for item in top10:
        print(f"  {'[Horror] ' if is_horror[item] else ''}{data.items['name'][item]}")
