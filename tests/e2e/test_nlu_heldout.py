"""The trained model on held-out customer messages (tests/nlu/heldout.yml), through Rasa's own HTTP API."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections import Counter

import yaml

from techan import PROJECT_ROOT
from techan.rasa_process import rasa_executable
from core.settings import Settings

HELDOUT = PROJECT_ROOT / "tests" / "nlu" / "heldout.yml"
INTENT_MACRO_F1 = 0.90
ENTITY_F1 = 0.85


def parse(stack, text: str) -> dict:
    token = Settings(_env_file=None, data_dir=stack.data_dir).rasa_token
    request = urllib.request.Request(f"{stack.rasa_url}/model/parse?token={token}", method="POST",
                                     data=json.dumps({"text": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def test_intents_and_entities_on_held_out_messages(stack):
    cases = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["utterances"]
    intent_tp, intent_fp, intent_fn = Counter(), Counter(), Counter()
    entity_tp = entity_fp = entity_fn = 0
    misses = []
    for case in cases:
        result = parse(stack, case["text"])
        got = result["intent"]["name"]
        if got == case["intent"]:
            intent_tp[got] += 1
        else:
            intent_fp[got] += 1
            intent_fn[case["intent"]] += 1
            misses.append(f"{case['text']!r}: intent {got}, expected {case['intent']}")
        expected = {(k, str(v)) for k, v in (case.get("entities") or {}).items()}
        found = {(e["entity"], str(e["value"])) for e in result["entities"]}
        entity_tp += len(expected & found)
        entity_fp += len(found - expected)
        entity_fn += len(expected - found)
        if expected != found:
            misses.append(f"{case['text']!r}: entities {sorted(found)}, expected {sorted(expected)}")
    intents = {case["intent"] for case in cases}
    macro = sum(f1(intent_tp[i], intent_fp[i], intent_fn[i]) for i in intents) / len(intents)
    entities = f1(entity_tp, entity_fp, entity_fn)
    report = f"intent macro-F1 {macro:.3f}, entity F1 {entities:.3f} on {len(cases)} messages\n" + "\n".join(misses)
    print(report)
    assert len(cases) >= 150
    assert macro >= INTENT_MACRO_F1, report
    assert entities >= ENTITY_F1, report


ENGLISH_AND_MIXED = ("how long does the jerky keep", "let me see it on a video call",
                     "can you vacuum seal the beef jerky for me", "我想买 rock tea 送 my boss")


def test_the_tokenizer_drops_the_spaces_between_english_words():
    """Jieba yields each space as a token; ours (bot/components.py) leaves them out."""
    script = ("import sys; sys.path.insert(0, '.'); from bot.components import JiebaWordTokenizer as T; "
              "from rasa.shared.nlu.training_data.message import Message; "
              "t = T(T.get_default_config(), None, None); "
              f"print('|'.join(x.text for x in t.tokenize(Message({{'text': {ENGLISH_AND_MIXED[-1]!r}}}), 'text')))")
    result = subprocess.run([str(rasa_executable().with_name("python")), "-c", script], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120, check=True)
    tokens = result.stdout.strip().split("|")
    assert "rock" in tokens and "boss" in tokens
    assert all(token.strip() == token and token for token in tokens), tokens


def test_no_entity_is_or_ends_in_a_space(stack):
    for text in ENGLISH_AND_MIXED:
        for entity in parse(stack, text)["entities"]:
            span = text[entity["start"]:entity["end"]]
            assert span and span == span.strip(), (text, entity)


ALIGNMENT_CHECK = """
import sys; sys.path.insert(0, '.')
from pathlib import Path
from bot.components import JiebaWordTokenizer as T
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
for _ in range(2):  # rasa train loads the dictionary twice, which shifts jieba's word frequencies
    T._load_custom_dictionary('bot/jieba')
tokenizer = T(T.get_default_config(), None, None)
for path in sorted(Path('bot/data/nlu').glob('*.yml')):
    for message in RasaYAMLReader().read(path).training_examples:
        edges = {edge for token in tokenizer.tokenize(message, 'text') for edge in (token.start, token.end)}
        for entity in message.get('entities') or []:
            if entity['start'] not in edges or entity['end'] not in edges:
                print(message.get('text'), entity['value'])
"""


def test_every_entity_in_the_training_data_falls_on_token_boundaries():
    """DIET cannot learn an entity inside a token: "[生日](occasion)礼物" needs 生日 and 礼物 apart."""
    result = subprocess.run([str(rasa_executable().with_name("python")), "-c", ALIGNMENT_CHECK], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip() == "", "entities across token boundaries:\n" + result.stdout
