"""Item text, item/embedding file parsing, RecBole id alignment, cache reuse and the CLI (no real model loaded:
a deterministic stand-in encoder replaces the model where encoding is needed)."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recbole_semsr.embeddings import (
    DuplicateItemError,
    EmbeddingDimensionError,
    ItemFileError,
    ItemTextTemplate,
    MissingItemsError,
    NonFiniteEmbeddingError,
    item_embeddings_for_config,
    load_item_embeddings,
)
from recbole_semsr.embeddings import loader
from recbole_semsr.embeddings.encoders import (
    EncoderSpec,
    TextEncoder,
    encoder_spec,
    l2_normalise,
    length_sorted_order,
)
from recbole_semsr.embeddings.item_file import format_float, read_item_file
from recbole_semsr.embeddings.item_text import render_item_texts
from recbole_semsr.embeddings.store import read_itememb

ITEM_HEADER = "item_id:token\ttitle:token\tbrand:token\tcategories:token_seq\tprice:float\n"


def text_vector(text: str) -> np.ndarray:
    """The stand-in encoder's raw vector: (length, number of spaces, 1)."""
    return np.array([len(text), text.count(" "), 1.0], dtype=np.float32)


class FakeEncoder(TextEncoder):
    """Deterministic 3-d encoder that records every text it encodes."""

    calls: list[list[str]] = []

    def _load(self) -> None:
        return None

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        FakeEncoder.calls.append(list(texts))
        return np.stack([text_vector(text) for text in texts])


def fake_build(spec: EncoderSpec) -> TextEncoder:
    return FakeEncoder(spec)


def refuse_build(spec: EncoderSpec) -> TextEncoder:
    raise AssertionError("the encoder must not be built when a matching cache file exists")


@pytest.fixture(autouse=True)
def reset_fake_calls() -> None:
    FakeEncoder.calls = []


def write_dataset(root: Path, rows: list[str], name: str = "tiny") -> Path:
    """`<root>/<name>/<name>.item` with ITEM_HEADER and `rows`; returns the dataset folder."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.item").write_text(ITEM_HEADER + "".join(rows), encoding="utf-8")
    return folder


def make_config(folder: Path, tmp_path: Path, **extra: object) -> dict:
    return {
        "dataset": folder.name,
        "data_path": str(folder),
        "seq_separator": "|",
        "sem_embedding_dir": str(tmp_path / "cache"),
        "sem_text_template": ["{title}", "Brand: {brand}", "Categories: {categories}", "Price: {price}"],
        "show_progress": False,
        **extra,
    }


def fake_dataset(token2id: dict[str, int]) -> SimpleNamespace:
    return SimpleNamespace(item_num=len(token2id), field2token_id={"item_id": token2id})


ROWS = [
    "i3\tSilk Lipstick\tMAC\tBeauty|Makeup|Lips\t12.5\n",
    "i1\tRose &amp; Oud Perfume\t\tBeauty|Fragrance\tnan\n",
    "i2\tHair Gel\tXtreme\t\t5\n",
]
EXPECTED_TEXTS = {
    "i3": "Silk Lipstick; Brand: MAC; Categories: Beauty, Makeup, Lips; Price: 12.5",
    "i1": "Rose & Oud Perfume; Categories: Beauty, Fragrance",
    "i2": "Hair Gel; Brand: Xtreme; Price: 5",
}


# --- item text -----------------------------------------------------------------------------------------------


def test_template_leaves_out_parts_whose_fields_are_missing(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, ROWS)
    table = read_item_file(folder / "tiny.item", seq_separator="|")
    texts = render_item_texts(table, ItemTextTemplate.from_config(make_config(folder, tmp_path)))
    assert dict(zip(table.tokens, texts)) == EXPECTED_TEXTS
    assert table.tokens == ["i3", "i1", "i2"]


def test_item_file_cleans_quoted_multiline_cells_and_nan_markers(tmp_path: Path) -> None:
    rows = ['a\t"Gel ""Ultra""\n\t 50ml"\tNaN\tNone\t\n']
    table = read_item_file(write_dataset(tmp_path, rows) / "tiny.item", seq_separator="|")
    assert table.values["a"] == {"title": 'Gel "Ultra" 50ml'}
    assert ItemTextTemplate().render(table.values["a"]) == 'Gel "Ultra" 50ml'


@pytest.mark.parametrize(
    ("raw", "text"),
    [("5.04", "5.04"), ("12.0", "12"), ("1234567.5", "1234567.5"), (" 0.125 ", "0.125"), ("nan", None),
     ("inf", None), ("", None)],
)
def test_floats_are_written_as_in_the_file_and_missing_ones_left_out(raw: str, text: str | None) -> None:
    assert format_float(raw, "here") == text


def test_placeholder_alternatives_take_the_first_field_with_a_value() -> None:
    template = ItemTextTemplate(parts=("{title}", "About: {description|desc}"), separator=" | ")
    assert template.render({"title": "T", "desc": "short"}) == "T | About: short"
    assert template.render({"title": "T", "description": "long", "desc": "short"}) == "T | About: long"
    assert template.render({}) == ""


def test_space_separated_sequences_keep_their_words(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "ml.item").write_text("item_id:token\tmovie_title:token_seq\nm1\tToy Story\n", encoding="utf-8")
    assert read_item_file(folder / "ml.item").values["m1"] == {"movie_title": "Toy Story"}


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (ITEM_HEADER + "a\tonly two\n", ItemFileError, "line 2: expected 5 fields, found 2"),
        (ITEM_HEADER + "a\tT\tB\tC\t1\nb\tT\tB\tC\t1\na\tT\tB\tC\t1\n", DuplicateItemError, "line 4: item 'a' already defined on line 2"),
        (ITEM_HEADER + "a\tT\tB\tC\tcheap\n", ItemFileError, "line 2, column 'price': expected a float"),
        ("item_id:token\ttitle:text\n", ItemFileError, "line 1: column 'title:text'"),
        ("title:token\nT\n", ItemFileError, "no 'item_id' column"),
    ],
)
def test_bad_item_files_name_file_line_and_problem(tmp_path: Path, content: str, error: type, message: str) -> None:
    path = tmp_path / "bad.item"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error, match=message):
        read_item_file(path, seq_separator="|")


def test_template_reading_no_column_of_the_file_is_an_error(tmp_path: Path) -> None:
    table = read_item_file(write_dataset(tmp_path, ROWS) / "tiny.item", seq_separator="|")
    with pytest.raises(ItemFileError, match="none of which is a column"):
        render_item_texts(table, ItemTextTemplate(parts=("{color}",)))


# --- encoder registry (no model loaded) ----------------------------------------------------------------------


def test_encoder_spec_validates_names_and_options() -> None:
    with pytest.raises(ValueError, match="unknown sem_encoder 'bert'"):
        encoder_spec("bert")
    with pytest.raises(ValueError, match=r"no option\(s\) \['pooling'\]"):
        encoder_spec("minilm", pooling="cls")
    with pytest.raises(ValueError, match="needs a model directory"):
        encoder_spec("sentence-transformers")
    assert encoder_spec("llm2vec").options["peft_model_path"].endswith("-mntp-supervised")
    assert encoder_spec("llm2vec", "/models/llama").options["peft_model_path"] is None
    assert encoder_spec("angle", pooling="avg").options["pooling"] == "avg"
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        encoder_spec("minilm", precision="int8")
    with pytest.raises(ValueError, match="fp16: true contradicts precision: bf16"):
        encoder_spec("minilm", precision="bf16", fp16=True)


def test_an_unset_precision_keeps_the_fingerprint_of_caches_written_before_it_existed() -> None:
    assert encoder_spec("minilm").describe()["options"] == {"fp16": None, "max_length": None, "prompt": None}
    assert encoder_spec("minilm", precision="bf16").describe()["options"]["precision"] == "bf16"


def test_length_sorted_order_puts_the_longest_first_and_keeps_ties_in_input_order() -> None:
    assert length_sorted_order([3, 9, 3, 1, 9]) == [1, 4, 0, 2, 3]
    assert length_sorted_order([]) == []


def test_encode_batches_texts_longest_first_and_returns_rows_in_input_order() -> None:
    encoder = FakeEncoder(encoder_spec("minilm", device="cpu"))
    texts = ["a", "a b c d e", "a b", "a b c d e f g", "a b c"]
    vectors = encoder.encode(texts, batch_size=2, show_progress=False)
    assert FakeEncoder.calls[1:] == [["a b c d e f g", "a b c d e"], ["a b c", "a b"], ["a"]]
    np.testing.assert_allclose(vectors, l2_normalise(np.stack([text_vector(text) for text in texts])), rtol=1e-6)
    permutation = [3, 0, 4, 2, 1]
    permuted = encoder.encode([texts[index] for index in permutation], batch_size=2, show_progress=False)
    np.testing.assert_array_equal(permuted, vectors[permutation])


def test_l2_normalise_rejects_zero_and_nan_rows() -> None:
    np.testing.assert_allclose(l2_normalise(np.array([[3.0, 4.0]])), [[0.6, 0.8]])
    with pytest.raises(NonFiniteEmbeddingError, match="text index 1"):
        l2_normalise(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(NonFiniteEmbeddingError):
        l2_normalise(np.array([[np.nan, 1.0]]))


# --- loading an .itememb file and aligning it to RecBole ids ------------------------------------------------


def write_itememb(path: Path, rows: list[str]) -> Path:
    path.write_text("item_id:token\titem_emb:float_seq\n" + "".join(rows), encoding="utf-8")
    return path


def test_loader_maps_rows_to_recbole_ids_whatever_the_file_order(tmp_path: Path) -> None:
    emb = write_itememb(tmp_path / "v.itememb", ["c\t3 30\n", "a\t1 10\n", "x\t9 90\n", "b\t2 20\n"])
    dataset = fake_dataset({"[PAD]": 0, "b": 1, "c": 2, "a": 3})
    table = load_item_embeddings({"sem_embedding_file": str(emb)}, dataset)
    assert table.dtype == torch.float32
    assert table.tolist() == [[0, 0], [2, 20], [3, 30], [1, 10]]


def test_rows_are_copied_in_chunks_to_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [f"i{k}\t{k} {10 * k}\n" for k in range(7, 0, -1)]
    emb = write_itememb(tmp_path / "v.itememb", rows)
    dataset = fake_dataset({"[PAD]": 0, **{f"i{k}": k for k in range(1, 8)}})
    whole = load_item_embeddings({"sem_embedding_file": str(emb)}, dataset)
    monkeypatch.setattr(loader, "ALIGN_CHUNK_ROWS", 3)
    chunked = load_item_embeddings({"sem_embedding_file": str(emb)}, dataset)
    assert torch.equal(chunked, whole)
    assert whole.tolist() == [[0, 0]] + [[k, 10 * k] for k in range(1, 8)]


@pytest.mark.parametrize(
    ("rows", "config", "error", "message"),
    [
        (["a\t1 2\n"], {}, MissingItemsError, r"1 of 2 dataset items have no vector \(e.g. \['b'\]\)"),
        (["a\t1 2\n", "b\t3 4\n", "a\t5 6\n"], {}, DuplicateItemError, "line 4: item 'a' already defined on line 2"),
        (["a\t1 2\n", "b\t3 4 5\n"], {}, EmbeddingDimensionError, "line 3: 3 values, but line 2 has 2"),
        (["a\t1 2\n", "b\t3 4\n"], {"sem_embedding_size": 1024}, EmbeddingDimensionError, "2 dimensions, sem_embedding_size is 1024"),
        (["a\t1 nan\n", "b\t3 4\n"], {}, NonFiniteEmbeddingError, "line 2: item 'a' has NaN or infinity"),
        (["a\t1 inf\n", "b\t3 4\n"], {}, NonFiniteEmbeddingError, "line 2"),
        (["a\t1 x\n"], {}, ItemFileError, "line 2: values must be floats"),
    ],
)
def test_loader_failures_raise_the_documented_errors(
    tmp_path: Path, rows: list[str], config: dict, error: type, message: str
) -> None:
    emb = write_itememb(tmp_path / "v.itememb", rows)
    with pytest.raises(error, match=message):
        load_item_embeddings({"sem_embedding_file": str(emb), **config}, fake_dataset({"[PAD]": 0, "a": 1, "b": 2}))


def test_itememb_header_must_name_the_item_field(tmp_path: Path) -> None:
    path = tmp_path / "v.itememb"
    path.write_text("id:token\temb:float_seq\na\t1\n", encoding="utf-8")
    with pytest.raises(ItemFileError, match="line 1: expected header 'item_id:token<TAB><name>:float_seq'"):
        read_itememb(path)


# --- encoding through the cache ------------------------------------------------------------------------------


def test_encoded_vectors_follow_recbole_ids_and_are_unit_length(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "build_encoder", fake_build)
    folder = write_dataset(tmp_path, ROWS)
    dataset = fake_dataset({"[PAD]": 0, "i1": 1, "i2": 2, "i3": 3})
    table = load_item_embeddings(make_config(folder, tmp_path), dataset).numpy()
    expected = l2_normalise(np.stack([text_vector(EXPECTED_TEXTS[token]) for token in ("i1", "i2", "i3")]))
    np.testing.assert_allclose(table[1:], expected, rtol=1e-6)
    assert table[0].tolist() == [0.0, 0.0, 0.0]
    assert sorted(text for batch in FakeEncoder.calls[1:] for text in batch) == sorted(EXPECTED_TEXTS.values())


def test_second_run_reuses_the_cache_without_building_the_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_dataset(tmp_path, ROWS)
    config = make_config(folder, tmp_path)
    dataset = fake_dataset({"[PAD]": 0, "i1": 1, "i2": 2, "i3": 3})
    monkeypatch.setattr(loader, "build_encoder", fake_build)
    first = load_item_embeddings(config, dataset)
    monkeypatch.setattr(loader, "build_encoder", refuse_build)
    second = load_item_embeddings(config, dataset)
    assert second.tolist() == first.tolist()
    index = json.loads(next((tmp_path / "cache" / "tiny").glob("minilm-*.json")).read_text())
    assert index["item_ids"] == ["i3", "i1", "i2"] and index["dim"] == 3 and index["items_per_second"] > 0
    assert index["precision"] == "fp32"


@pytest.mark.parametrize(
    "change",
    [
        {"sem_text_template": ["{title}"]},
        {"sem_text_separator": " | "},
        {"sem_encoder_options": {"max_length": 32}},
        {"sem_encoder_options": {"precision": "bf16"}},
        {"sem_encoder_options": {"precision": "fp32"}},
        {"sem_encoder": "sentence-transformers", "sem_model_path": "/models/other"},
    ],
)
def test_a_change_of_template_or_model_encodes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict
) -> None:
    folder = write_dataset(tmp_path, ROWS)
    monkeypatch.setattr(loader, "build_encoder", fake_build)
    before = item_embeddings_for_config(make_config(folder, tmp_path), show_progress=False)
    FakeEncoder.calls = []
    after = item_embeddings_for_config(make_config(folder, tmp_path, **change), show_progress=False)
    assert FakeEncoder.calls and not after.reused
    assert after.source != before.source


def test_a_changed_item_text_encodes_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "build_encoder", fake_build)
    folder = write_dataset(tmp_path, ROWS)
    item_embeddings_for_config(make_config(folder, tmp_path), show_progress=False)
    write_dataset(tmp_path, ROWS[:2] + ["i2\tHair Gel Strong\tXtreme\t\t5\n"])
    again = item_embeddings_for_config(make_config(folder, tmp_path), show_progress=False)
    assert not again.reused


def test_a_corrupted_cache_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "build_encoder", fake_build)
    folder = write_dataset(tmp_path, ROWS)
    stored = item_embeddings_for_config(make_config(folder, tmp_path), show_progress=False)
    broken = stored.vectors.copy()
    broken[1, 0] = np.inf
    np.save(stored.source, broken)
    with pytest.raises(NonFiniteEmbeddingError, match="1 vectors contain NaN or infinity \\(items 'i1'\\)"):
        item_embeddings_for_config(make_config(folder, tmp_path), show_progress=False)


def test_encoder_options_must_be_a_mapping(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, ROWS)
    with pytest.raises(ValueError, match="sem_encoder_options must be a mapping"):
        item_embeddings_for_config(make_config(folder, tmp_path, sem_encoder_options="pooling=cls"))


def test_missing_item_file_names_the_expected_path(tmp_path: Path) -> None:
    config = {"dataset": "nothing", "data_path": str(tmp_path / "nothing")}
    with pytest.raises(ItemFileError, match=r"nothing\.item not found"):
        item_embeddings_for_config(config)


def test_sem_defaults_come_from_overall_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    from recbole_semsr import defaults

    changed = {**defaults.overall_defaults(), "sem_batch_size": 7, "sem_text_template": ["{name}"],
               "sem_text_separator": " / "}
    monkeypatch.setattr(defaults, "overall_defaults", lambda: changed)
    assert loader.setting({}, "sem_batch_size") == 7
    assert loader.setting({"sem_batch_size": 3}, "sem_batch_size") == 3
    template = ItemTextTemplate.from_config({})
    assert (template.parts, template.separator) == (("{name}",), " / ") == (ItemTextTemplate().parts, " / ")


def write_model_dir(folder: Path, weights: bytes = b"\x00\x01weights") -> Path:
    """A stand-in local model directory: a config file and a weights file in a subfolder."""
    (folder / "pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"dim": 3}')
    (folder / "pooling" / "model.bin").write_bytes(weights)
    return folder


def test_the_same_model_in_another_folder_reuses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_dataset(tmp_path, ROWS)
    first_venv = write_model_dir(tmp_path / "venv1" / "model")
    second_venv = write_model_dir(tmp_path / "venv2" / "model")
    monkeypatch.setattr(loader, "build_encoder", fake_build)
    encoded = item_embeddings_for_config(make_config(folder, tmp_path, sem_encoder="sentence-transformers",
                                                     sem_model_path=str(first_venv)), show_progress=False)
    monkeypatch.setattr(loader, "build_encoder", refuse_build)
    reused = item_embeddings_for_config(make_config(folder, tmp_path, sem_encoder="sentence-transformers",
                                                    sem_model_path=str(second_venv)), show_progress=False)
    assert reused.reused and reused.source == encoded.source


def test_a_model_whose_file_content_changed_is_another_model(tmp_path: Path) -> None:
    import os

    model = write_model_dir(tmp_path / "model", b"\x00\x01weights")
    before = encoder_spec("sentence-transformers", str(model)).describe()
    weights = model / "pooling" / "model.bin"
    weights.write_bytes(b"\x00\x02weights")  # same name, same size, same folder
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000_000))
    after = encoder_spec("sentence-transformers", str(model)).describe()
    assert before != after
    assert [name for name, _, _ in after["models"]["model_path"]] == ["config.json", "pooling/model.bin"]


def test_vectors_of_unknown_items_are_counted_and_zero_vectors_warned(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    emb = write_itememb(tmp_path / "v.itememb", ["a\t1 2\n", "x\t5 6\n", "b\t0 0\n", "y\t7 8\n"])
    with caplog.at_level("WARNING", logger=loader.logger.name):
        table = load_item_embeddings({"sem_embedding_file": str(emb)}, fake_dataset({"[PAD]": 0, "a": 1, "b": 2}))
    assert table.tolist() == [[0, 0], [1, 2], [0, 0]]
    assert f"{emb}: 2 of 4 vectors are for items the dataset does not know (e.g. ['x', 'y'])" in caplog.text
    assert "1 of 2 dataset items have an all-zero vector (e.g. ['b'])" in caplog.text
