"""Evaluation of the LLM as recommender: RecBole metrics on hand-made generations, the CLI end to end, resuming."""
from __future__ import annotations

import json

import pytest
from llm_rec_fakes import FakeOpenAIServer, WordCountEncoder, chat_reply, closed_port_url

from recbole_semsr.config import SemSRConfig
from recbole_semsr.embeddings.item_file import read_item_file
from recbole_semsr.embeddings.loader import item_embeddings_for_config, read_item_texts
from recbole_semsr.llm_rec.__main__ import main, parse_topk
from recbole_semsr.llm_rec.data import AtomicFileError, SessionSample, item_titles, most_recent, read_sessions
from recbole_semsr.llm_rec.evaluate import evaluate_llm, ranking_metrics
from recbole_semsr.llm_rec.prompts import load_template
from recbole_semsr.llm_rec.retrieval import ExactIndex
from recbole_semsr.model import get_model


def test_ranking_metrics_follow_recbole_recall_and_mrr():
    filler = [f"x{i}" for i in range(100)]
    ranked = [
        ["t1"] + filler[:99],                    # rank 1
        filler[:2] + ["t2"] + filler[2:97],      # rank 3
        filler[:24] + ["t3"] + filler[24:99],    # rank 25
        filler,                                  # not retrieved
    ]
    metrics = ranking_metrics(ranked, ["t1", "t2", "t3", "t4"], (20, 100))
    assert metrics == {"recall@20": 0.5, "mrr@20": round((1 + 1 / 3) / 4, 4),
                       "recall@100": 0.75, "mrr@100": round((1 + 1 / 3 + 1 / 25) / 4, 4)}


TOY_TITLES = {"1": "red lipstick", "2": "red nail polish", "3": "blue shampoo", "4": "green soap"}
TOY_SESSIONS = [
    SessionSample("a", ("3",), "1"),       # generation "red lipstick" -> item 1 at rank 1
    SessionSample("b", ("1",), "2"),       # generation "red lipstick" -> item 2 at rank 2 (rank 1 if 1 excluded)
    SessionSample("c", ("4",), "3"),       # empty generation -> miss
    SessionSample("d", ("2", "3"), "4"),   # generation "red" -> items 1, 2 (1, 4 if 2 and 3 excluded)
]
TOY_GENERATIONS = {"'blue shampoo'": "red lipstick", "'red lipstick'": "Next Product Title: red lipstick",
                   "'green soap'": "  ", "'red nail polish', 'blue shampoo'": "'red'"}


def toy_llm(conversations, max_new_tokens):
    """Answers from TOY_GENERATIONS by the query session at the end of the FS prompt."""
    replies = []
    for conversation in conversations:
        session = conversation[-1]["content"].split("following session Session: ")[1].split("\n")[0]
        replies.append(TOY_GENERATIONS[session])
    return replies


@pytest.mark.parametrize("exclude, expected", [
    (False, {"recall@1": 0.25, "mrr@1": 0.25, "recall@2": 0.5, "mrr@2": 0.375}),
    (True, {"recall@1": 0.5, "mrr@1": 0.5, "recall@2": 0.75, "mrr@2": 0.625}),
])
def test_metrics_of_hand_made_generations(exclude, expected):
    encoder = WordCountEncoder(["red", "lipstick", "nail", "polish", "blue", "shampoo", "green", "soap"])
    index = ExactIndex(list(TOY_TITLES), encoder.encode(list(TOY_TITLES.values())))
    metrics, stats = evaluate_llm(TOY_SESSIONS, TOY_TITLES, load_template("fs"), [], toy_llm, index, encoder,
                                  topk=(1, 2), exclude_session_items=exclude, chunk_size=3, keep_predictions=True)
    assert {key: metrics[key] for key in expected} == expected
    assert stats.empty_generations == 1
    assert [p["title"] for p in stats.predictions] == ["red lipstick", "red lipstick", "", "red"]


ITEM_FILE = (
    "item_id:token\ttitle:token\tbrand:token\n"
    "i1\tRed Lipstick Matte\tA\n"
    "i2\tRose Eau de Parfum Spray\tB\n"
    "i3\tArgan Oil Shampoo\tC\n"
    "i4\tNail Polish Remover\tD\n"
    "i5\tVitamin C Face Serum\tE\n"
    "i6\t\tF\n"
)
HEADER = "session_id:token\titem_id_list:token_seq\titem_id:token\n"
TRAIN_FILE = HEADER + "u1\ti5\ti1\nu1\ti5 i1\ti2\n"
TEST_FILE = HEADER + "u7\ti1 i2\ti3\nu8\ti3\ti4\nu9\ti4 i6\ti5\n"
SERVER_REPLIES = {  # query session -> the LLM's title
    "'Red Lipstick Matte', 'Rose Eau de Parfum Spray'": "Argan Oil Shampoo",  # the target: rank 1
    "'Argan Oil Shampoo'": "",                                                # empty: a miss
    "'Nail Polish Remover'": "Red Lipstick Matte",                            # another item at rank 1
}


@pytest.fixture
def toy_dataset(tmp_path):
    folder = tmp_path / "data" / "toy"
    folder.mkdir(parents=True)
    for name, text in [("toy.item", ITEM_FILE), ("toy.train.inter", TRAIN_FILE), ("toy.test.inter", TEST_FILE),
                       ("toy.valid.inter", HEADER)]:
        (folder / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_cli_writes_the_runner_result_json_and_a_second_run_makes_no_llm_calls(toy_dataset):
    def responder(payload):
        session = payload["messages"][-1]["content"].split("following session Session: ")[1].split("\n")[0]
        return 200, chat_reply(SERVER_REPLIES[session]), 0.0

    result_file = toy_dataset / "out" / "fs.json"
    argv = [f"--data_path={toy_dataset / 'data'}", "--dataset=toy", "--prompt=fs", "--backend=openai",
            "--llm=tiny", "--n_examples=1", "--topk=1,100", "--index=exact",
            f"--cache_dir={toy_dataset / 'cache'}", f"--embedding_dir={toy_dataset / 'vectors'}",
            f"--result_file={result_file}"]
    with FakeOpenAIServer(responder) as server:
        first = main(argv + [f"--base_url={server.base_url}"])
        assert len(server.requests) == 3
        second = main(argv + [f"--base_url={server.base_url}", "--index=chroma"])
        assert len(server.requests) == 3
    expected = {"recall@1": 0.3333, "mrr@1": 0.3333, "recall@100": 0.6667}
    for record in (first, second):
        assert {key: record["test_result"][key] for key in expected} == expected
    assert (second["config"]["backend_calls"], second["config"]["cache_hits"]) == (0, 3)
    sem_config = SemSRConfig(get_model("SemNISER_F"), "toy", config_dict={
        "data_path": str(toy_dataset / "data"), "sem_embedding_dir": str(toy_dataset / "vectors")})
    assert item_embeddings_for_config(sem_config).reused, "llm_rec encoded the Sem models' text into their store"
    written = json.loads(result_file.read_text())
    assert written["model"] == "FS-LLM" and written["dataset"] == "toy"
    assert set(written) >= {"test_result", "config", "eval_seconds", "best_valid_result"}
    assert written["llm_stats"]["untitled_session_items"] == 1
    assert written["llm_stats"]["few_shot_examples"][0]["title"] in {"Red Lipstick Matte", "Rose Eau de Parfum Spray"}
    assert "Session: 'Vitamin C Face Serum'" in server.requests[0]["messages"][1]["content"]


def test_atomic_file_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "x.test.inter"
    bad.write_text("session_id:token\titem_id:token\nu1\ti1\n", encoding="utf-8")
    with pytest.raises(AtomicFileError, match=r"x.test.inter: header lacks column\(s\) \['item_id_list'\]"):
        read_sessions(bad)
    bad.write_text(HEADER + "u1\ti1\ti2\nu2\ti3\n", encoding="utf-8")
    with pytest.raises(AtomicFileError, match="x.test.inter, line 3: expected 3 tab-separated fields, got 2"):
        read_sessions(bad)
    items = tmp_path / "x.item"
    items.write_text("item_id:token\tname:token\ni1\ta\n", encoding="utf-8")
    with pytest.raises(AtomicFileError, match=r"x.item, line 1: no column 'title' to show to the LLM"):
        item_titles(read_item_file(items))


def test_most_recent_subset_uses_timestamps_when_present_else_file_order():
    plain = [SessionSample(str(i), ("a",), "b") for i in range(5)]
    assert [s.session_id for s in most_recent(plain, 2)] == ["3", "4"]
    timed = [SessionSample(str(i), ("a",), "b", t) for i, t in enumerate([5.0, 1.0, 9.0, 2.0, 7.0])]
    assert [s.session_id for s in most_recent(timed, 3)] == ["0", "2", "4"]
    assert most_recent(plain, None) == plain


def test_llm_rec_and_the_embedding_store_give_identical_text_for_an_item(toy_dataset):
    from recbole_semsr.llm_rec.__main__ import item_settings, parse_args

    item_file = toy_dataset / "data" / "toy" / "toy.item"
    item_file.write_text(ITEM_FILE.replace("Red Lipstick Matte", "Red &amp;  Lipstick\u00a0Matte"), encoding="utf-8")
    args = parse_args(["--dataset=toy", f"--data_path={toy_dataset / 'data'}"])
    table, _, llm_texts = read_item_texts(item_settings(args))
    sem_config = SemSRConfig(get_model("SemNISER_F"), "toy", config_dict={"data_path": str(toy_dataset / "data")})
    _, _, store_texts = read_item_texts(sem_config)
    assert llm_texts == store_texts and store_texts[0] == "Red & Lipstick Matte; Brand: A"
    assert item_titles(table)["i1"] == "Red & Lipstick Matte" and item_titles(table)["i6"] == ""


def test_unreachable_backend_is_reported_before_any_data_or_encoder_work(monkeypatch):
    import recbole_semsr.llm_rec.__main__ as cli

    def no_work(*args, **kwargs):
        raise AssertionError("data was read before the backend was checked")

    monkeypatch.setattr(cli, "dataset_files", no_work)
    with pytest.raises(SystemExit, match=r"^error: .*/v1/models: connection refused \(checked before any work"):
        main(["--dataset=toy", "--backend=openai", "--llm=m", f"--base_url={closed_port_url()}"])


@pytest.mark.parametrize("text, expected", [("20,100", (20, 100)), ("[20,100]", (20, 100)), ("[20, 100]", (20, 100)),
                                            ("10", (10,))])
def test_topk_accepts_the_list_form(text, expected):
    assert parse_topk(text) == expected


@pytest.mark.parametrize("text", ["[20,abc]", "0", "20;100"])
def test_topk_refuses_what_is_not_positive_integers(text):
    with pytest.raises(SystemExit, match="expected positive integers"):
        parse_topk(text)
