"""LLM backends behind one interface, and a JSON-lines generation cache.

- `TransformersBackend`: a local Hugging Face causal LM directory (chat template, greedy by default, batched, GPU when
  present).
- `OpenAIBackend`: any OpenAI-compatible `/v1/chat/completions` endpoint (vLLM, llama.cpp server, Ollama), with a
  timeout, retries with backoff, and a concurrency limit.
- `CachedGenerator`: wraps a backend; every generation is stored on disk keyed by a hash of (backend, model, messages,
  generation parameters), so an interrupted run resumes and no prompt is paid for twice.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from recbole_semsr.llm_rec.prompts import Conversation

logger = logging.getLogger(__name__)
RETRY_HTTP_CODES = frozenset({408, 409, 429, 500, 502, 503, 504})


class BackendError(RuntimeError):
    """The LLM backend could not produce a generation."""


class BackendTimeoutError(BackendError):
    """Every attempt timed out or failed to connect."""


class BackendUnreachableError(BackendError):
    """Nothing answers at the endpoint: connection refused, unknown host, or no answer to the first check."""


class MalformedReplyError(BackendError):
    """The endpoint answered, but not with an OpenAI chat-completion JSON object."""


class ChatBackend(ABC):
    """Generates one assistant reply per conversation."""

    kind: str = ""
    model: str = ""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Generation parameters that change the output (part of the cache key)."""

    @abstractmethod
    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        """One reply per conversation, in order."""

    def check(self) -> None:
        """Fail fast, before any other work, when the backend cannot answer (a loaded local model always can)."""


class TransformersBackend(ChatBackend):
    """A local Hugging Face causal LM with a chat template; greedy decoding unless `temperature > 0`."""

    kind = "hf"

    def __init__(
        self,
        model_path: str | Path,
        batch_size: int = 8,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
        device: str | None = None,
        dtype: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = _torch_dtype(dtype, self.device)
        self.model = str(Path(model_path).resolve()) if Path(model_path).is_dir() else str(model_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model)
            self.lm = AutoModelForCausalLM.from_pretrained(self.model, torch_dtype=self.dtype).to(self.device).eval()
        except OSError as error:
            raise BackendError(
                f"cannot load a causal LM from {model_path!r} ({error}). Without network access, download the model "
                "elsewhere and pass its local directory as --llm_path."
            ) from error
        if not self.tokenizer.chat_template:
            raise BackendError(f"{self.model}: the tokenizer has no chat_template; use an instruction-tuned model")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size, self.temperature, self.top_p, self.seed = batch_size, temperature, top_p, seed

    def params(self) -> dict[str, Any]:
        sampling = {"temperature": self.temperature, "top_p": self.top_p, "seed": self.seed} if self.temperature else {}
        return {"do_sample": bool(self.temperature), **sampling}

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        replies: list[str] = []
        for start in range(0, len(conversations), self.batch_size):
            replies.extend(self._generate_batch(conversations[start:start + self.batch_size], max_new_tokens))
        return replies

    def _generate_batch(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        import torch
        from transformers import GenerationConfig

        texts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        inputs = {key: encoded[key].to(self.device) for key in ("input_ids", "attention_mask")}
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=bool(self.temperature),
            temperature=self.temperature or None,
            top_p=self.top_p if self.temperature else None,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.lm.generation_config.eos_token_id,
        )
        if self.temperature:
            torch.manual_seed(self.seed)
        with torch.inference_mode():
            output = self.lm.generate(**inputs, generation_config=config)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


def _torch_dtype(name: str | None, device):
    """bfloat16 (or float16) on GPU, float32 on CPU, unless named."""
    import torch

    if name:
        return getattr(torch, name)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


class OpenAIBackend(ChatBackend):
    """An OpenAI-compatible chat-completions endpoint; `base_url` like `http://127.0.0.1:8000/v1`."""

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        temperature: float = 0.0,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 1.0,
        concurrency: int = 4,
        seed: int | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.temperature, self.seed = temperature, seed
        self.timeout, self.max_retries, self.backoff, self.concurrency = timeout, max_retries, backoff, concurrency

    def params(self) -> dict[str, Any]:
        return {"temperature": self.temperature, **({"seed": self.seed} if self.seed is not None else {})}

    def check(self, timeout: float = 5.0) -> None:
        """One GET of ``<base_url>/models`` with a short timeout: any HTTP answer means a server listens."""
        url = self.url.removesuffix("/chat/completions") + "/models"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout):
                return
        except urllib.error.HTTPError:
            return
        except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
            raise BackendUnreachableError(f"{url}: {_connection_problem(error)} (checked before any work, timeout "
                                          f"{timeout}s); start the server or fix --base_url") from error

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda c: self._complete(c, max_new_tokens), conversations))

    def _complete(self, conversation: Conversation, max_new_tokens: int) -> str:
        body = json.dumps({"model": self.model, "messages": conversation, "max_tokens": max_new_tokens,
                           **self.params()}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error, refused = "", False
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return _reply_text(response.read(), self.url)
            except urllib.error.HTTPError as error:
                detail = error.read()[:300].decode("utf-8", "replace")
                if error.code not in RETRY_HTTP_CODES:
                    raise BackendError(f"{self.url}: HTTP {error.code}: {detail}") from error
                last_error = f"HTTP {error.code}: {detail}"
            except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
                last_error, refused = _connection_problem(error), _is_refused(error)
            logger.warning("%s: attempt %d/%d failed (%s)", self.url, attempt + 1, self.max_retries + 1, last_error)
        if refused:
            raise BackendUnreachableError(f"{self.url}: connection refused ({self.max_retries + 1} attempts)")
        raise BackendTimeoutError(
            f"{self.url}: no reply after {self.max_retries + 1} attempts (timeout {self.timeout}s); last: {last_error}"
        )


def _is_refused(error: BaseException) -> bool:
    return isinstance(getattr(error, "reason", error), ConnectionRefusedError)


def _connection_problem(error: BaseException) -> str:
    """What went wrong on the wire, in words: "connection refused", "timed out", or the socket's reason."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return f"{type(reason).__name__}: {reason}"


def _reply_text(payload: bytes, url: str) -> str:
    """`choices[0].message.content` of a chat-completion reply, or MalformedReplyError saying what was wrong."""
    snippet = payload[:200].decode("utf-8", "replace")
    try:
        reply = json.loads(payload)
    except ValueError as error:
        raise MalformedReplyError(f"{url}: reply is not JSON ({error}): {snippet!r}") from error
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as error:
        raise MalformedReplyError(f"{url}: reply lacks choices[0].message.content: {snippet!r}") from error
    if not isinstance(content, str):
        raise MalformedReplyError(f"{url}: choices[0].message.content is {type(content).__name__}, not text")
    return content


class GenerationCache:
    """Generations on disk as JSON lines `{"key", "backend", "model", "messages", "output"}`; append-only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries: dict[str, str] = {}
        self.skipped_lines = 0
        if self.path.is_file():
            self._load()

    @staticmethod
    def key(backend: ChatBackend, messages: Conversation, max_new_tokens: int) -> str:
        """sha256 of (backend kind, model, messages, generation parameters)."""
        material = {"backend": backend.kind, "model": backend.model, "messages": messages,
                    "params": {**backend.params(), "max_new_tokens": max_new_tokens}}
        return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _load(self) -> None:
        with self.path.open(encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                try:
                    record = json.loads(line)
                    self.entries[record["key"]] = record["output"]
                except (ValueError, KeyError, TypeError):
                    self.skipped_lines += 1
                    logger.warning("%s, line %d: unreadable cache record skipped (interrupted write?)", self.path, line_no)

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put(self, records: Sequence[dict[str, Any]]) -> None:
        """Append records (each with `key` and `output`) and flush, so an interruption loses at most one line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                self.entries[record["key"]] = record["output"]
            handle.flush()
            os.fsync(handle.fileno())


class CachedGenerator:
    """Callable `(conversations, max_new_tokens) -> replies` that asks the backend only for uncached prompts."""

    def __init__(self, backend: ChatBackend, cache: GenerationCache | None = None) -> None:
        self.backend, self.cache = backend, cache
        self.calls = 0
        self.hits = 0

    def __call__(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        if self.cache is None:
            self.calls += len(conversations)
            return self.backend.generate(conversations, max_new_tokens)
        keys = [GenerationCache.key(self.backend, c, max_new_tokens) for c in conversations]
        missing = {key: c for key, c in zip(keys, conversations) if self.cache.get(key) is None}
        self.hits += len(keys) - len(missing)
        if missing:
            self.calls += len(missing)
            replies = self.backend.generate(list(missing.values()), max_new_tokens)
            self.cache.put([
                {"key": key, "backend": self.backend.kind, "model": self.backend.model, "messages": c, "output": reply}
                for (key, c), reply in zip(missing.items(), replies)
            ])
        return [self.cache.get(key) for key in keys]


def make_backend(kind: str, **options: Any) -> ChatBackend:
    """`hf` -> TransformersBackend(model_path, ...); `openai` -> OpenAIBackend(base_url, model, ...)."""
    if kind == "hf":
        return TransformersBackend(**options)
    if kind == "openai":
        return OpenAIBackend(**options)
    raise ValueError(f"unknown backend {kind!r}: use 'hf' or 'openai'")
