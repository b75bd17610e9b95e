"""Prompt templates of the LLM-as-recommender baselines: rendering, multi-step conversations, example drawing."""
from __future__ import annotations

import pytest

from recbole_semsr.llm_rec.data import SessionSample
from recbole_semsr.llm_rec.prompts import (
    FewShotExample,
    TemplateError,
    add_rationales,
    build_messages,
    clean_title,
    draw_examples,
    load_template,
    render,
    run_steps,
)

FIGURE2_EXAMPLE = FewShotExample(("iphone max pro", "iphone 13", "iphone 13 cover"), "Apple Air Pods")
FIGURE2_QUERY = ["Eau De Parfum", "Perfuming Body Oil", "Arbonne Bronzer"]


class ScriptedLLM:
    """Replies from a list, in call order; records each conversation and max_new_tokens."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.seen: list[tuple[list[dict[str, str]], int]] = []

    def __call__(self, conversations, max_new_tokens):
        self.seen.extend((list(c), max_new_tokens) for c in conversations)
        return [self.replies.pop(0) for _ in conversations]


def test_fs_prompt_renders_the_figure_2_template():
    messages = build_messages(FIGURE2_QUERY, load_template("fs"), [FIGURE2_EXAMPLE])
    assert messages == [
        {"role": "system", "content": "You are a helpful recommendation system for e-commerce platform."},
        {"role": "user", "content": (
            "Your task is to predict the title of the next product that a customer is going to engage with, based on "
            "their session data. The output should only contain the predicted title of the product and nothing else."
            "\n\nHere are a few examples:\n\n"
            "Session: 'iphone max pro', 'iphone 13', 'iphone 13 cover' Predicted Next Product Title: Apple Air Pods"
            "\n\nNow, Predict Next Title for the following session Session: "
            "'Eau De Parfum', 'Perfuming Body Oil', 'Arbonne Bronzer'\n\nNext Product Title:"
        )},
    ]


def test_titles_with_braces_are_not_treated_as_placeholders():
    template = load_template("fs")
    text = build_messages(["Set {A} of 2"], template, [FewShotExample(("x {session}",), "y")])[1]["content"]
    assert "Session: 'x {session}' Predicted Next Product Title: y" in text
    assert "Session: 'Set {A} of 2'" in text


def test_zcot_asks_for_the_rationale_then_continues_the_conversation_for_the_title():
    llm = ScriptedLLM(["They like perfume.", "Next Product Title: \"Arbonne Makeup Primer\"\nmore text"])
    outputs = run_steps([FIGURE2_QUERY], load_template("zcot"), [], llm)
    assert outputs == [{"rationale": "They like perfume.", "title": "Arbonne Makeup Primer",
                        "raw_title": "Next Product Title: \"Arbonne Makeup Primer\"\nmore text"}]
    (first, first_tokens), (second, second_tokens) = llm.seen
    assert [m["role"] for m in first] == ["system", "user"]
    assert "Session: 'Eau De Parfum', 'Perfuming Body Oil', 'Arbonne Bronzer'" in first[1]["content"]
    assert "Let's think step by step." in first[1]["content"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == "They like perfume."
    assert second[3]["content"].endswith("Next Product Title:")
    assert (first_tokens, second_tokens) == (160, 48)


def test_fscot_examples_carry_rationales_written_from_the_true_next_title():
    template = load_template("fscot")
    llm = ScriptedLLM(["Phone buyers want audio.", "Fragrance then makeup.", "Arbonne Primer"])
    examples = add_rationales([FIGURE2_EXAMPLE], template, llm)
    assert examples == [FewShotExample(FIGURE2_EXAMPLE.session, "Apple Air Pods", "Phone buyers want audio.")]
    rationale_request = llm.seen[0][0][1]["content"]
    assert "'iphone max pro', 'iphone 13', 'iphone 13 cover'" in rationale_request
    assert "The next product they engaged with was: 'Apple Air Pods'" in rationale_request
    outputs = run_steps([FIGURE2_QUERY], template, examples, llm)
    assert outputs[0]["title"] == "Arbonne Primer"
    first_call = llm.seen[1][0][1]["content"]
    assert ("Session: 'iphone max pro', 'iphone 13', 'iphone 13 cover'\nReasoning: Phone buyers want audio.\n"
            "Predicted Next Product Title: Apple Air Pods") in first_call
    assert first_call.endswith("Session: 'Eau De Parfum', 'Perfuming Body Oil', 'Arbonne Bronzer'\n\nReasoning:")


def test_examples_come_from_training_samples_deterministically_and_skip_untitled_items():
    titles = {str(i): f"title {i}" for i in range(1, 30)} | {"99": ""}
    train = [SessionSample(f"s{i}", (str(i), str(i + 1)), str(i + 2)) for i in range(1, 27)]
    train.append(SessionSample("untitled", ("99",), "1"))
    first = draw_examples(train, titles, 3, seed=7, max_items=1)
    assert first == draw_examples(train, titles, 3, seed=7, max_items=1)
    assert first != draw_examples(train, titles, 3, seed=8, max_items=1)
    by_target = {f"title {s.target}": s for s in train}
    for example in first:
        sample = by_target[example.title]
        assert example.session == (titles[sample.items[-1]],)
    assert all(example.session != ("",) for example in draw_examples(train, titles, 26, seed=1, max_items=5))
    with pytest.raises(ValueError, match="only 26 training samples"):
        draw_examples(train, titles, 27, seed=1, max_items=5)


@pytest.mark.parametrize("raw, title", [
    ("Arbonne Makeup Primer", "Arbonne Makeup Primer"),
    ("\n  Predicted Next Product Title: 'Eau de Toilette 3 oz'\n\nSession: x", "Eau de Toilette 3 oz"),
    ("**Next Product Title:** Nail Polish", "Nail Polish"),
    ("   \n", ""),
])
def test_clean_title_keeps_only_the_title(raw, title):
    assert clean_title(raw) == title


def test_template_errors_name_the_file_and_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("system: s\nsteps:\n  - user: 'Session: {sesion}'\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"bad.yaml steps\[0\]: unknown placeholder \{sesion\}"):
        load_template(bad)
    bad.write_text("system: s\nsteps:\n  - user: 'x'\n    output: rationale\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="last step must have output 'title'"):
        load_template(bad)
    bad.write_text("system: s\nsteps:\n  - user: 'x'\n    max_new_tokens: many\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="'max_new_tokens' must be a int"):
        load_template(bad)
    with pytest.raises(TemplateError, match="not found"):
        load_template("nope")
    assert render("{{literal}} {a}", {"a": "b"}) == "{literal} b"
