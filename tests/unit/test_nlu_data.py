"""The bot's training data meets its brief, and the held-out set really is held out."""

from __future__ import annotations

import re
from collections import Counter

import yaml

from bot.questions import GIFT_VALUES, overruled_intent
from knowledge.files import OCCASIONS, RECIPIENTS
from techan import PROJECT_ROOT

QUESTION_INTENTS = ("ask_shelf_life", "ask_storage", "ask_vacuum_packing", "ask_shipping", "ask_product_info",
                    "request_gift")
ANNOTATION = re.compile(r"\[([^\]]+)\]\(([a-z_]+)\)")
TRADITIONAL = re.compile(r"[們這個嗎麼錢運單寄幾裝禮給過長輩戶視頻轉餅乾頭臘壺腸紅葉]")


NLU_DIR = PROJECT_ROOT / "bot" / "data" / "nlu"


def training_data() -> tuple[dict[str, list[str]], dict[str, str]]:
    """Examples by intent and synonyms, from every topic file (faq.yml, gifts.yml, ...)."""
    nlu = [block for path in sorted(NLU_DIR.glob("*.yml"))
           for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]]
    examples: dict[str, list[str]] = {}
    synonyms: dict[str, str] = {}
    for block in nlu:
        lines = [line.strip()[2:].strip() for line in block["examples"].splitlines() if line.strip()]
        if "intent" in block:
            assert block["intent"] not in examples, f"{block['intent']} is split over two files"
            examples[block["intent"]] = lines
        elif "synonym" in block:
            synonyms.update({line: block["synonym"] for line in lines})
    return examples, synonyms


def test_every_question_intent_has_forty_examples_some_traditional():
    examples, _ = training_data()
    for intent in QUESTION_INTENTS:
        assert len(examples[intent]) >= 40, intent
    traditional = sum(bool(TRADITIONAL.search(line)) for lines in examples.values() for line in lines)
    assert traditional >= 30


def test_every_recipient_and_occasion_maps_to_a_canonical_value():
    examples, synonyms = training_data()
    canonical = {"recipient": set(RECIPIENTS), "occasion": set(OCCASIONS)}
    for lines in examples.values():
        for line in lines:
            for value, entity in ANNOTATION.findall(line):
                if entity in canonical:
                    assert synonyms.get(value, value) in canonical[entity], (line, value)


def test_the_question_guard_knows_the_recipients_and_occasions_of_the_gift_form():
    """The Rasa server cannot import knowledge.files, so bot.questions keeps its own list."""
    assert GIFT_VALUES == {"recipient": set(RECIPIENTS), "occasion": set(OCCASIONS)}


def test_the_question_guard_keeps_the_intent_of_every_training_example():
    """The guard (bot/components.py) re-reads some of what DIET reads; a message taught as an intent must stay it
    (the gift details it is annotated with taken as ones the gift form knows)."""
    examples, _ = training_data()
    overruled = [(intent, line) for intent, lines in examples.items() for line in lines
                 if overruled_intent(intent, ANNOTATION.sub(r"\1", line),
                                     {entity for _text, entity in ANNOTATION.findall(line)}) is not None]
    assert not overruled


def test_held_out_messages_are_not_training_examples():
    examples, _ = training_data()
    trained = {ANNOTATION.sub(r"\1", line) for lines in examples.values() for line in lines}
    cases = yaml.safe_load((PROJECT_ROOT / "tests" / "nlu" / "heldout.yml").read_text(encoding="utf-8"))["utterances"]
    assert len(cases) >= 150
    assert not [c["text"] for c in cases if c["text"] in trained]
    assert set(Counter(c["intent"] for c in cases)) == set(examples)  # every intent is tested


def test_recipient_and_occasion_lookups_list_every_synonym():
    """The lookup tables feed the entity extractor the same words the synonyms map, no more, no fewer."""
    _, synonyms = training_data()
    nlu = yaml.safe_load((NLU_DIR / "lookups.yml").read_text(encoding="utf-8"))["nlu"]
    lookups = {block["lookup"]: {line.strip()[2:].strip() for line in block["examples"].splitlines() if line.strip()}
               for block in nlu}
    assert lookups["recipient"] == {word for word, value in synonyms.items() if value in RECIPIENTS}
    assert lookups["occasion"] == {word for word, value in synonyms.items() if value in OCCASIONS}


def test_budget_spans_keep_their_qualifier():
    """The budget parser reads the entity text: "[500](budget)以内" or "under [300](budget)" would lose the qualifier."""
    examples, _ = training_data()
    cut = [line for lines in examples.values() for line in lines
           if re.search(r"\]\(budget\)\s*(以内|以下|以上|左右|上下|多|or (less|more)|\+)", line)
           or re.search(r"(大概|大约|差不多|不超过|最多|至少|under|below|around|about|over|up to|at least)\s*\[[^\]]+\]\(budget\)",
                        line, re.I)]
    assert not cut


def test_button_payloads_in_the_domain_are_escaped_for_rasas_interpolation():
    """Rasa fills ``{slot}`` placeholders in every response, buttons too: an unescaped ``/inform{"occasion": …}``
    payload is taken for a slot name and logs an ERROR on every press. ``{{…}}`` comes out as ``{…}``."""
    import json

    domain = yaml.safe_load((PROJECT_ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    payloads = [button["payload"] for variants in domain["responses"].values() for variant in variants
                for button in variant.get("buttons", [])]
    with_entities = [p for p in payloads if "{" in p]
    assert len(with_entities) >= 40
    for payload in with_entities:
        sent = payload.format()  # what Rasa's interpolator leaves of an escaped payload
        intent, _, entities = sent.partition("{")
        assert intent.startswith("/") and json.loads("{" + entities), payload
