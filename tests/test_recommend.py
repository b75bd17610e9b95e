"""The Recommender API against the evaluator: same checkpoint, same sessions, same top-k (real ml-100k slice,
one epoch per model)."""
import shutil
from pathlib import Path

import pytest

from recbole_semsr.provenance import CheckpointMismatchError
from recbole_semsr.quick_start import run
from conftest import recommend_train_config
from recbole_semsr.new_items import NewItemsUnsupportedError
from recbole_semsr.recommender import Recommender, RecommendError

K = 20


def held_out_samples(data_path: Path) -> list[tuple[list[str], str]]:
    """(session prefix as raw ids, raw target) of every row of the test file."""
    rows = (data_path / "ml-100k" / "ml-100k.test.inter").read_text().splitlines()[1:]
    return [(line.split("\t")[1].split(), line.split("\t")[2]) for line in rows]


def api_metrics(recommender: Recommender, samples, exclude: bool) -> dict[str, float]:
    """Recall@K and MRR@K of the API's top-K lists, computed from the raw ids."""
    lists = recommender.recommend_batch([session for session, _ in samples], k=K, exclude_session_items=exclude,
                                        batch_size=len(samples))
    ranks = [found.items.index(target) + 1 if target in found.items else 0
             for found, (_, target) in zip(lists, samples)]
    return {f"recall@{K}": sum(rank > 0 for rank in ranks) / len(ranks),
            f"mrr@{K}": sum(1 / rank for rank in ranks if rank) / len(ranks)}


def evaluator_metrics(ml100k_slice, tmp_path, checkpoint: str, model: str, exclude: bool,
                      rerank_with: str | None = None) -> dict[str, float]:
    config = {**recommend_train_config(ml100k_slice, tmp_path), "model_file": checkpoint,
              "exclude_session_items": exclude, "rerank_with": rerank_with}
    result = run(model, "ml-100k", config_dict=config)["test_result"]
    return {key: result[key] for key in (f"recall@{K}", f"mrr@{K}")}


@pytest.mark.parametrize("model", ["NISER", "SemNISER_F", "VSTAN"])
@pytest.mark.parametrize("exclude", [False, True])
def test_api_top_k_equals_the_evaluators_ranking(model, exclude, recommend_checkpoints, ml100k_slice, tmp_path,
                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    recommender = Recommender.load(recommend_checkpoints[model])
    samples = held_out_samples(ml100k_slice)
    assert len(samples) > 40
    expected = evaluator_metrics(ml100k_slice, tmp_path, recommend_checkpoints[model], model, exclude)
    assert expected[f"recall@{K}"] > 0
    assert api_metrics(recommender, samples, exclude) == pytest.approx(expected, abs=1e-6)


def test_plus_pair_top_k_equals_the_evaluators_reranked_lists(recommend_checkpoints, ml100k_slice, tmp_path,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    recommender = Recommender.load(recommend_checkpoints["NISER"], rerank_with=recommend_checkpoints["VSTAN"])
    assert recommender.model_name == "NISER+VSTAN"
    samples = held_out_samples(ml100k_slice)
    expected = evaluator_metrics(ml100k_slice, tmp_path, recommend_checkpoints["NISER"], "NISER", True,
                                 recommend_checkpoints["VSTAN"])
    plain = api_metrics(Recommender.load(recommend_checkpoints["NISER"]), samples, True)
    reranked = api_metrics(recommender, samples, True)
    assert reranked == pytest.approx(expected, abs=1e-6)
    assert reranked[f"recall@{K}"] == plain[f"recall@{K}"] and reranked[f"mrr@{K}"] != plain[f"mrr@{K}"]


def test_unknown_ids_are_skipped_and_counted(recommend_checkpoints):
    recommender = Recommender.load(recommend_checkpoints["NISER"])
    with_unknown = recommender.recommend(["nope", "242", "171", "also-unknown"], k=5)
    known_only = recommender.recommend(["242", "171"], k=5)
    assert with_unknown.unknown == ["nope", "also-unknown"] and known_only.unknown == []
    assert with_unknown.items == known_only.items and with_unknown.fallback is None
    assert not {"242", "171"} & set(with_unknown.items)
    assert with_unknown.titles[0] and len(with_unknown.titles) == 5


def test_session_of_unknown_ids_gets_the_most_popular_training_items(recommend_checkpoints, ml100k_slice):
    train = (ml100k_slice / "ml-100k" / "ml-100k.train.inter").read_text().splitlines()[1:]
    longest: dict[str, list[str]] = {}
    for line in train:
        session, prefix, target = line.split("\t")
        items = prefix.split() + [target]
        if len(items) > len(longest.get(session, [])):
            longest[session] = items
    counts: dict[str, int] = {}
    for items in longest.values():
        for item in items:
            counts[item] = counts.get(item, 0) + 1
    most = max(counts.values())
    for model in ("NISER", "VSTAN"):
        found = Recommender.load(recommend_checkpoints[model]).recommend(["nope"], k=3)
        assert found.fallback == "popularity" and found.unknown == ["nope"]
        assert counts[found.items[0]] == most and found.scores[0] == most
        assert found.scores == sorted(found.scores, reverse=True)


def test_k_outside_one_to_the_number_of_items_is_refused(recommend_checkpoints):
    recommender = Recommender.load(recommend_checkpoints["VSTAN"])
    for k in (0, -1, recommender.n_items + 1, 2.5):
        with pytest.raises(RecommendError, match=f"from 1 to the number of items \\({recommender.n_items}\\)"):
            recommender.recommend(["242"], k=k)
    assert len(recommender.recommend(["242"], k=recommender.n_items, exclude_session_items=False).items) \
        == recommender.n_items


def test_checkpoint_whose_data_files_are_missing_is_refused_naming_them(recommend_checkpoints, ml100k_slice, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(ml100k_slice / "ml-100k", moved / "ml-100k")
    (moved / "ml-100k" / "ml-100k.valid.inter").unlink()
    with pytest.raises(RecommendError, match=r"data files not found in .*moved/ml-100k: ml-100k.valid.inter") \
            as refused:
        Recommender.load(recommend_checkpoints["NISER"], data_path=moved)
    assert "\n" not in str(refused.value)


def test_checkpoint_on_other_data_is_refused(recommend_checkpoints, ml100k_slice, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(ml100k_slice / "ml-100k", moved / "ml-100k")
    test_file = moved / "ml-100k" / "ml-100k.test.inter"
    header, *rows = test_file.read_text().splitlines(keepends=True)
    test_file.write_text(header + "".join(reversed(rows)))
    with pytest.raises(CheckpointMismatchError, match="ml-100k.test.inter sha256"):
        Recommender.load(recommend_checkpoints["NISER"], data_path=moved)


NEW_ITEMS = ("item_id:token\ttitle:token_seq\trelease_year:token\tgenres:token_seq\n"
             "new-star\tStar Wars\t1977\tAction Adventure Romance Sci-Fi War\n"  # the text of item 50, a new id
             "new-blank\t\t1999\t\n"                                           # no field the template reads
             "50\tStar Wars\t1977\tAction Adventure Romance Sci-Fi War\n")      # already known


@pytest.fixture
def new_items_file(tmp_path) -> Path:
    path = tmp_path / "new.item"
    path.write_text(NEW_ITEMS)
    return path


def test_sem_model_ranks_a_new_item_through_the_llm_side_alone(recommend_checkpoints, new_items_file):
    import torch

    from recbole_semsr.model.layers import unit_rows

    recommender = Recommender.load(recommend_checkpoints["SemNISER_F"])
    before = recommender.n_items
    assert recommender.add_items(new_items_file) == {"added": 1, "already_known": 1, "without_text": 1,
                                                     "examples_without_text": ["new-blank"]}
    assert recommender.n_items == before + 1
    found = recommender.recommend(["242", "171"], k=recommender.n_items)
    assert "new-star" in found.items and found.titles[found.items.index("new-star")] == "Star Wars"

    model = recommender.base.model
    with torch.no_grad():
        session = model.session_vector(recommender.interaction([[recommender.token_to_id[t] for t in ("242", "171")]]))
        same_text = model.fusion.llm_table[recommender.token_to_id["50"]]
        llm_side_only = unit_rows(model.fusion.item_projection_l(same_text)[None])
        by_hand = float(model.logit_scale * (session * llm_side_only).sum())
    assert found.scores[found.items.index("new-star")] == pytest.approx(by_hand, abs=1e-3)
    assert found.scores[found.items.index("50")] != pytest.approx(by_hand, abs=1e-2)


def test_known_item_scored_as_new_loses_its_id_row_and_keeps_its_text(recommend_checkpoints):
    """The cold-start evaluation's stand-in: a trained item scored as if added after training (ID row zero)."""
    import torch

    from recbole_semsr.model.layers import unit_rows

    recommender = Recommender.load(recommend_checkpoints["SemNISER_F"])
    session = ["242", "171"]
    before = recommender.recommend(session, k=recommender.n_items)
    assert recommender.score_as_new_items(["50", "not-an-item"]) == 1
    after = recommender.recommend(session, k=recommender.n_items)

    model = recommender.base.model
    with torch.no_grad():
        vector = model.session_vector(recommender.interaction([[recommender.token_to_id[t] for t in session]]))
        llm_side_only = unit_rows(model.fusion.item_projection_l(model.fusion.llm_table[recommender.token_to_id["50"]])[None])
        by_hand = float(model.logit_scale * (vector * llm_side_only).sum())
    assert after.scores[after.items.index("50")] == pytest.approx(by_hand, abs=1e-3)
    assert before.scores[before.items.index("50")] != pytest.approx(by_hand, abs=1e-2)
    other = next(item for item in before.items if item != "50")
    assert after.scores[after.items.index(other)] == pytest.approx(before.scores[before.items.index(other)])
    with pytest.raises(NewItemsUnsupportedError, match="cannot score items without interactions"):
        Recommender.load(recommend_checkpoints["NISER"]).score_as_new_items(["50"])


def test_session_of_new_items_is_scored_from_their_text(recommend_checkpoints, new_items_file):
    recommender = Recommender.load(recommend_checkpoints["SemNISER_F"])
    recommender.add_items(new_items_file)
    found = recommender.recommend(["new-star", "never-seen"], k=5)
    assert found.fallback == "text" and found.unknown == ["never-seen"] and "new-star" not in found.items
    assert found.items != recommender.recommend(["never-seen"], k=5).items


@pytest.mark.parametrize("model, reason", [("NISER", "ID embeddings learned from interactions"),
                                           ("VSTAN", "the training sessions it occurs in")])
def test_id_models_and_knn_baselines_refuse_new_items(model, reason, recommend_checkpoints, new_items_file):
    recommender = Recommender.load(recommend_checkpoints[model])
    with pytest.raises(ValueError, match=f"{model} cannot score items without interactions .*{reason}"):
        recommender.add_items(new_items_file)
    assert "new-star" not in recommender.token_to_id


def test_plus_pair_refuses_new_items_when_its_reranker_cannot_score_them(recommend_checkpoints, new_items_file):
    recommender = Recommender.load(recommend_checkpoints["SemNISER_F"], rerank_with=recommend_checkpoints["VSTAN"])
    with pytest.raises(ValueError, match="VSTAN cannot score items without interactions"):
        recommender.add_items(new_items_file)


@pytest.mark.parametrize("model, settings, reason", [
    ("SemNISER_I", {}, "it is SemSR-I: its item rows started from the LLM vectors and then trained"),
    ("SemNISER_F", {"sem_llm_dim": 4}, "SemNISER_F was trained with sem_llm_dim"),
    ("SemNISER_F", {"sem_embedding_file": "vectors.itememb"}, "SemNISER_F read its item vectors from "
                                                               "sem_embedding_file"),
])
def test_sem_models_without_a_text_side_refuse_new_items(model, settings, reason, build_model, monkeypatch):
    import torch

    from recbole_semsr.model import MODELS, semsr
    from recbole_semsr.new_items import refuse_new_items

    monkeypatch.setattr(semsr, "load_item_embeddings", lambda config, dataset: torch.randn(10, 8))
    config = {"sem_embedding_file": None, "sem_llm_dim": None, **settings}
    built = build_model(MODELS[model], n_items=10, embedding_size=8, **config)
    with pytest.raises(NewItemsUnsupportedError, match=reason):
        refuse_new_items(built, config, "new.item")
