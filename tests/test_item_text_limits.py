"""Issue 25, cases 6 and 12: Sem models refuse item text that covers few dataset items; over-long text fields are
cut to `sem_max_field_chars` before encoding, and the cut items are counted."""
from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from recbole_semsr.embeddings import TextCoverageError, load_item_embeddings, loader
from recbole_semsr.embeddings.encoders import TextEncoder
from recbole_semsr.embeddings.item_text import ItemTextTemplate

HEADER = "item_id:token\ttitle:token\tbrand:token\n"


class LengthEncoder(TextEncoder):
    """2-d stand-in encoder: (text length, 1); records every text it is given."""

    texts: list[str] = []

    def _load(self) -> None:
        return None

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        LengthEncoder.texts += texts
        return np.array([[len(text), 1.0] for text in texts], dtype=np.float32)


@pytest.fixture(autouse=True)
def length_encoder(monkeypatch):
    LengthEncoder.texts = []
    monkeypatch.setattr(loader, "build_encoder", LengthEncoder)


def dataset_folder(tmp_path: Path, rows: list[str]) -> Path:
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "toy.item").write_text(HEADER + "".join(rows), encoding="utf-8")
    return folder


def settings(folder: Path, tmp_path: Path, **extra) -> dict:
    return {"dataset": "toy", "data_path": str(folder), "sem_embedding_dir": str(tmp_path / "cache"),
            "sem_text_template": ["{title}", "Brand: {brand}"], "show_progress": False, **extra}


def recbole_dataset(tokens: list[str]) -> SimpleNamespace:
    token2id = {"[PAD]": 0, **{token: index for index, token in enumerate(tokens, start=1)}}
    return SimpleNamespace(item_num=len(token2id), field2token_id={"item_id": token2id})


# --- case 6: an item table that matches no interaction id ---------------------------------------------------

def float_id_rows() -> list[str]:
    """The items 1..4 as pandas writes a float column (`1.0`) with text, and 1..4 as the interactions name them
    (what the sessions converter writes for items without a row): no text."""
    return [f"{item}.0\tTitle {item}\tBrand\n" for item in range(1, 5)] + [f"{item}\t\t\n" for item in range(1, 5)]


def test_a_sem_model_refuses_items_most_of_which_have_no_text(tmp_path):
    folder = dataset_folder(tmp_path, float_id_rows())
    with pytest.raises(TextCoverageError, match=r"toy\.item: 4 of 4 dataset items have no text \(more than "
                                                r"sem_max_textless_share=0\.5\); do the item ids .* 1034\.0"):
        load_item_embeddings(settings(folder, tmp_path), recbole_dataset(["1", "2", "3", "4"]))
    assert LengthEncoder.texts == [], "no encoder may be built before the refusal"


def test_half_the_items_without_text_still_trains_and_the_share_is_a_setting(tmp_path):
    rows = ["1\tTitle one\t\n", "2\tTitle two\t\n", "3\t\t\n", "4\t\t\n"]
    folder = dataset_folder(tmp_path, rows)
    table = load_item_embeddings(settings(folder, tmp_path), recbole_dataset(["1", "2", "3", "4"]))
    assert table.shape == (5, 2)
    with pytest.raises(TextCoverageError, match=r"2 of 4 dataset items have no text"):
        load_item_embeddings(settings(folder, tmp_path, sem_max_textless_share=0.25),
                             recbole_dataset(["1", "2", "3", "4"]))


def test_ready_vectors_need_no_text(tmp_path):
    folder = dataset_folder(tmp_path, ["1\t\t\n", "2\t\t\n"])
    vectors = tmp_path / "ready.itememb"
    vectors.write_text("item_id:token\titem_emb:float_seq\n1\t1 0\n2\t0 1\n", encoding="utf-8")
    table = load_item_embeddings(settings(folder, tmp_path, sem_embedding_file=str(vectors)),
                                 recbole_dataset(["1", "2"]))
    assert table[1:].tolist() == [[1.0, 0.0], [0.0, 1.0]]


# --- case 12: a 10 MB title -----------------------------------------------------------------------------------

def test_a_huge_field_is_cut_before_encoding_and_counted(tmp_path, caplog):
    huge = "word " * 2_000_000  # 10 MB
    rows = [f"1\t{huge}\tAcme\n", "2\tShort title\tAcme\n", f"3\tFine\t{'b' * 6000}\n"]
    folder = dataset_folder(tmp_path, rows)
    with caplog.at_level(logging.WARNING):
        table = load_item_embeddings(settings(folder, tmp_path), recbole_dataset(["1", "2", "3"]))
    cut_title = ("word " * 1000).strip()  # the first 5000 characters, with the final space collapsed by the template
    encoded = [text for text in LengthEncoder.texts if text != "dimension probe"]  # the encoder's own probe
    assert sorted(encoded) == sorted([f"{cut_title}; Brand: Acme", "Short title; Brand: Acme",
                                      f"Fine; Brand: {'b' * 5000}"])
    assert table.shape == (4, 2)
    assert ("2 of 3 items of" in caplog.text and "longer than sem_max_field_chars=5000 characters, cut to it "
            "(e.g. 1 (title), 3 (brand))" in caplog.text)


def test_the_cut_is_a_setting_and_can_be_switched_off():
    values = {"title": "abcdefgh", "brand": "xy"}
    assert ItemTextTemplate(parts=("{title}", "{brand}"), separator="|", max_field_chars=3).render(values) == "abc|xy"
    assert ItemTextTemplate(parts=("{title}",), max_field_chars=None).render(values) == "abcdefgh"
    template = ItemTextTemplate.from_config({"sem_text_template": ["{title}"], "sem_max_field_chars": None})
    assert template.max_field_chars is None and template.cut_fields(values) == []
    with pytest.raises(ValueError, match="sem_max_field_chars must be a positive integer"):
        ItemTextTemplate(parts=("{title}",), max_field_chars=0)
