"""Prompt templates for the LLM-as-recommender baselines (paper section 3.2, Figure 2).

A template is a YAML file (`templates/fs.yaml`, `zcot.yaml`, `fscot.yaml`, or any file of the same layout): a system
role, a task, optional few-shot examples drawn from the training split, and one or more steps. Each step is one LLM
call; a later step continues the conversation of the earlier ones (ZCoT/FSCoT: rationale first, then the title).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import yaml

from recbole_semsr.llm_rec.data import SessionSample

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
BUILTIN_TEMPLATES = ("fs", "zcot", "fscot")
TITLE_OUTPUT = "title"
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\w+)\}")
_MARKUP = " \t*`\"'"
_TITLE_PREFIX = re.compile(r"^\s*(?:predicted\s+)?(?:next\s+)?(?:product\s+)?title\s*:\s*", re.IGNORECASE)

Message = dict[str, str]
Conversation = list[Message]
GenerateFn = Callable[[Sequence[Conversation], int], list[str]]


class TemplateError(ValueError):
    """A prompt template file is missing a key, has a wrong type, or uses an unknown placeholder."""


@dataclass(frozen=True)
class PromptStep:
    """One LLM call: the user message, the name of its output, and its generation length."""

    user: str
    output: str
    max_new_tokens: int


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed template file."""

    name: str
    label: str
    system: str
    steps: tuple[PromptStep, ...]
    session_item: str = "'{title}'"
    session_separator: str = ", "
    n_examples: int = 0
    example: str = ""
    example_separator: str = "\n\n"
    example_rationale: PromptStep | None = None


@dataclass(frozen=True)
class FewShotExample:
    """A training session, its true next title and (FSCoT) a rationale."""

    session: tuple[str, ...]
    title: str
    rationale: str = ""


def render(text: str, fields: dict[str, str], where: str = "template") -> str:
    """Substitute `{name}` placeholders (`{{`/`}}` are literal braces); an unknown name raises TemplateError."""

    def substitute(match: re.Match) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        name = match.group(1)
        if name not in fields:
            raise TemplateError(f"{where}: unknown placeholder {{{name}}}; available: {sorted(fields)}")
        return fields[name]

    return _PLACEHOLDER.sub(substitute, text)


def _typed(raw: dict, key: str, kind: type, source: str, default=None):
    value = raw.get(key, default)
    if value is None or not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise TemplateError(f"{source}: key {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _parse_step(raw: object, source: str, default_output: str) -> PromptStep:
    if not isinstance(raw, dict):
        raise TemplateError(f"{source}: a step must be a mapping with 'user', got {raw!r}")
    return PromptStep(
        user=_typed(raw, "user", str, source),
        output=_typed(raw, "output", str, source, default_output),
        max_new_tokens=_typed(raw, "max_new_tokens", int, source, 64),
    )


def load_template(name_or_path: str | Path) -> PromptTemplate:
    """Load a built-in template (`fs`, `zcot`, `fscot`) or a YAML file of the same layout (yaml.safe_load)."""
    path = TEMPLATE_DIR / f"{name_or_path}.yaml" if str(name_or_path) in BUILTIN_TEMPLATES else Path(name_or_path)
    if not path.is_file():
        raise TemplateError(f"prompt template {name_or_path!r} not found: use one of {BUILTIN_TEMPLATES} or a YAML path")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    source = str(path)
    if not isinstance(raw, dict):
        raise TemplateError(f"{source}: expected a mapping at the top level")
    steps_raw = _typed(raw, "steps", list, source)
    steps = tuple(_parse_step(step, f"{source} steps[{i}]", TITLE_OUTPUT) for i, step in enumerate(steps_raw))
    if not steps or steps[-1].output != TITLE_OUTPUT:
        raise TemplateError(f"{source}: the last step must have output '{TITLE_OUTPUT}'")
    n_examples = _typed(raw, "n_examples", int, source, 0)
    rationale_raw = raw.get("example_rationale")
    template = PromptTemplate(
        name=path.stem,
        label=_typed(raw, "label", str, source, path.stem),
        system=_typed(raw, "system", str, source),
        steps=steps,
        session_item=_typed(raw, "session_item", str, source, "'{title}'"),
        session_separator=_typed(raw, "session_separator", str, source, ", "),
        n_examples=n_examples,
        example=_typed(raw, "example", str, source) if n_examples else raw.get("example", ""),
        example_separator=_typed(raw, "example_separator", str, source, "\n\n"),
        example_rationale=_parse_step(rationale_raw, f"{source} example_rationale", "rationale") if rationale_raw else None,
    )
    _check_placeholders(template, source)
    return template


def _check_placeholders(template: PromptTemplate, source: str) -> None:
    """Render every part once with dummy fields so that a typo fails at load time, not mid-run."""
    render(template.session_item, {"title": ""}, f"{source} session_item")
    example_fields = {"session": "", "title": "", "rationale": ""}
    if template.example:
        render(template.example, example_fields, f"{source} example")
    if template.example_rationale:
        render(template.example_rationale.user, example_fields, f"{source} example_rationale")
    fields = {"session": "", "examples": ""}
    for index, step in enumerate(template.steps):
        render(step.user, fields, f"{source} steps[{index}]")
        fields[step.output] = ""


def format_session(titles: Sequence[str], template: PromptTemplate) -> str:
    """Render a session's item titles, oldest first, e.g. `'Eau De Parfum', 'Arbonne Bronzer'`."""
    return template.session_separator.join(
        render(template.session_item, {"title": title}) for title in titles
    )


def format_examples(examples: Sequence[FewShotExample], template: PromptTemplate) -> str:
    """Render the few-shot block that replaces `{examples}`."""
    return template.example_separator.join(
        render(template.example, {"session": format_session(ex.session, template), "title": ex.title,
                                  "rationale": ex.rationale})
        for ex in examples
    )


def draw_examples(
    train: Sequence[SessionSample], titles: dict[str, str], n: int, seed: int, max_items: int
) -> list[FewShotExample]:
    """Draw `n` few-shot examples from the TRAINING samples, deterministically for a seed.

    Only samples whose session items and target all have a non-empty title qualify; sessions keep their last
    `max_items` titles.
    """
    if n <= 0:
        return []
    usable = [s for s in train if titles.get(s.target) and all(titles.get(item) for item in s.items[-max_items:])]
    if len(usable) < n:
        raise ValueError(f"only {len(usable)} training samples have titles for all items; {n} examples requested")
    chosen = random.Random(seed).sample(range(len(usable)), n)
    return [
        FewShotExample(tuple(titles[item] for item in usable[i].items[-max_items:]), titles[usable[i].target])
        for i in sorted(chosen)
    ]


def clean_title(text: str) -> str:
    """The predicted title from a generation: first non-empty line, without a 'Next Product Title:' prefix or quotes."""
    for line in text.strip().splitlines():
        line = _TITLE_PREFIX.sub("", line.strip(_MARKUP)).strip(_MARKUP)
        if line:
            return line
    return ""


def _system(template: PromptTemplate) -> Conversation:
    return [{"role": "system", "content": template.system}] if template.system else []


def add_rationales(
    examples: Sequence[FewShotExample], template: PromptTemplate, generate: GenerateFn
) -> list[FewShotExample]:
    """FSCoT: let the LLM write each example's rationale from its session and true next title (one call each)."""
    step = template.example_rationale
    if step is None or not examples:
        return list(examples)
    conversations = [
        _system(template)
        + [{"role": "user", "content": render(step.user, {"session": format_session(ex.session, template),
                                                          "title": ex.title, "rationale": ""})}]
        for ex in examples
    ]
    rationales = generate(conversations, step.max_new_tokens)
    return [FewShotExample(ex.session, ex.title, text.strip()) for ex, text in zip(examples, rationales)]


def run_steps(
    sessions: Sequence[Sequence[str]],
    template: PromptTemplate,
    examples: Sequence[FewShotExample],
    generate: GenerateFn,
) -> list[dict[str, str]]:
    """Run the template's steps for a batch of sessions (lists of titles); return each session's outputs.

    Step k's conversation is the system message, then every earlier step's user message and generated reply, then
    step k's user message. The `title` output is cleaned with `clean_title`; the raw reply is kept as `raw_title`.
    """
    block = format_examples(examples, template) if examples else ""
    fields = [{"session": format_session(titles, template), "examples": block} for titles in sessions]
    conversations = [_system(template) for _ in sessions]
    for index, step in enumerate(template.steps):
        for conversation, session_fields in zip(conversations, fields):
            conversation.append({"role": "user", "content": render(step.user, session_fields, f"steps[{index}]")})
        replies = generate([list(c) for c in conversations], step.max_new_tokens)
        for conversation, session_fields, reply in zip(conversations, fields, replies):
            conversation.append({"role": "assistant", "content": reply})
            session_fields[step.output] = reply.strip()
    outputs = []
    for session_fields in fields:
        result = {key: value for key, value in session_fields.items() if key not in ("session", "examples")}
        result["raw_title"] = result[TITLE_OUTPUT]
        result[TITLE_OUTPUT] = clean_title(result[TITLE_OUTPUT])
        outputs.append(result)
    return outputs


def build_messages(
    titles: Sequence[str], template: PromptTemplate, examples: Sequence[FewShotExample] = ()
) -> Conversation:
    """The first call's conversation for one session (what the model sees for a one-step template)."""
    fields = {"session": format_session(titles, template), "examples": format_examples(examples, template)}
    return _system(template) + [{"role": "user", "content": render(template.steps[0].user, fields, "steps[0]")}]
