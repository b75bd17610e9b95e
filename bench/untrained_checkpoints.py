r"""Runner checkpoints of untrained models, for speed benchmarks of a trained model's serving path at a scale
where training is out of reach (the synthetic 500,000-item Amazon-M2 catalogue on a CPU).

    python bench/m2_synthetic.py --sessions 1400000 --products 500000 --seed 0 --output_dir /tmp/m2raw
    python -m dataset_converters.kdd_m2 --sessions /tmp/m2raw/sessions_train.csv \
        --products /tmp/m2raw/products_train.csv --locale UK --output_dir /tmp/m2/kdd_m2_uk
    python bench/untrained_checkpoints.py --dataset kdd_m2_uk --data_path=/tmp/m2 --checkpoint_dir=/tmp/m2/saved \
        --models NISER SemNISER_F VSTAN --random_item_vectors

Builds the dataset and each model exactly as the runner does (`--key=value` overrides as in the runner), then
saves the runner's checkpoint (config, initial weights, data record) without a training step; a non-neural
baseline is fitted as always. Serving time does not depend on the weights' values. With
`--random_item_vectors`, the Sem models' item vectors are random unit vectors of the encoder's size, written into
the encoder cache under the fingerprint the loader looks up, so nothing is encoded (500,000 texts would take
about 40 minutes on two CPU cores): fine for timing, meaningless for accuracy. Prints one JSON line
`{model: checkpoint}`.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from recbole.data import create_dataset, data_preparation
from recbole.utils import init_seed

from recbole_semsr.cli import parse_overrides
from recbole_semsr.config import SemSRConfig
from recbole_semsr.embeddings.encoders import build_encoder
from recbole_semsr.embeddings.loader import configured_encoder, read_item_texts, setting
from recbole_semsr.embeddings.store import EmbeddingStore, cache_fingerprint
from recbole_semsr.model import get_model
from recbole_semsr.provenance import data_provenance
from recbole_semsr.trainer import SemSRTrainer


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--random_item_vectors", action="store_true",
                        help="Sem models: random unit item vectors in the encoder cache instead of encoding")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random item vectors")
    args, extra = parser.parse_known_args(argv)
    return args, {"show_progress": False, **parse_overrides(extra)}


def write_random_item_vectors(config: SemSRConfig, seed: int) -> None:
    """Random unit vectors for every item of the `.item` file, cached where `load_item_embeddings` looks."""
    table, template, texts = read_item_texts(config)
    spec = configured_encoder(config)
    digest = cache_fingerprint(spec.describe(), template.describe(), table.tokens, texts)
    store = EmbeddingStore(setting(config, "sem_embedding_dir"))
    if store.load(config["dataset"], spec.name, digest) is not None:
        return
    vectors = np.random.default_rng(seed).standard_normal((len(table.tokens), build_encoder(spec).dim),
                                                          dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.save(config["dataset"], spec.name, digest, table.tokens, vectors,
               {"dataset": config["dataset"], "encoder": spec.describe(), "random": True})


def main(argv: list[str] | None = None) -> dict[str, str]:
    args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    saved: dict[str, str] = {}
    dataset = train_dataset = None
    for name in args.models:
        config = SemSRConfig(get_model(name), args.dataset, config_dict=overrides)
        init_seed(config["seed"], config["reproducibility"])
        if dataset is None:
            dataset = create_dataset(config)
            train_dataset = data_preparation(config, dataset)[0]._dataset
        if args.random_item_vectors and getattr(get_model(name), "base_model", None) is not None:
            write_random_item_vectors(config, args.seed)
        init_seed(config["seed"], config["reproducibility"])
        trainer = SemSRTrainer(config, get_model(name)(config, train_dataset).to(config["device"]))
        trainer.data_provenance = data_provenance(config, dataset)
        trainer._save_checkpoint(0, verbose=False)
        saved[name] = trainer.saved_model_file
    print(json.dumps(saved))
    return saved


if __name__ == "__main__":
    main()
