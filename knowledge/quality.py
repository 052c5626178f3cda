"""Answer quality as customers get it: the shop's own set of customer messages, each with its right outcome.

Every message goes through ``Knowledge.answer`` — the path the bot's action takes — optionally with
the intent and entities a running Rasa server reads from it. An outcome is right when it is one of
the message's labels (``kb:ID``, ``catalog:PRODUCT``, ``shipping:PROVINCE``, ``not_sold``, ``defer``).
"Confidently wrong" counts answers given that were not right: the failure a shop owner cannot accept.
"""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlencode
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from knowledge.files import ImportFileError
from knowledge.service import Answer, Knowledge
from core.language import detect, to_simplified

QUALITY_DIR = Path(__file__).with_name("eval")
# dev2 to dev24 were written later, each fresh, to find what the halves before had not shown; the dev halves
# are tuned on, test is only measured.
DEV_HALVES = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9", "dev10", "dev11", "dev12",
              "dev13", "dev14", "dev15", "dev16", "dev17", "dev18", "dev19", "dev20",
              "dev21", "dev22", "dev23", "dev24")
HALVES = {**{half: QUALITY_DIR / f"answers-{half}.yml" for half in DEV_HALVES}, "test": QUALITY_DIR / "answers-test.yml"}
TARGET_CORRECT, TARGET_WRONG = 0.85, 0.05  # on the test half
OUTCOME_KINDS = ("kb", "catalog", "shipping", "not_sold", "defer")
# The intents the bot answers with action_answer_question (bot/data/rules/faq.yml), and those that bring a person.
ANSWERED_INTENTS = frozenset({"ask_shelf_life", "ask_storage", "ask_vacuum_packing", "ask_shipping",
                              "ask_product_info", "inform", "nlu_fallback"})
HANDOFF_INTENTS = frozenset({"request_human", "request_video"})


@dataclass(frozen=True)
class Case:
    text: str
    answers: tuple[str, ...]
    context: str | None = None

    @property
    def defer(self) -> bool:
        return self.answers == ("defer",)


@dataclass
class Report:
    half: str
    results: list[tuple[Case, str, bool]] = field(default_factory=list)  # (case, outcome, right)

    def share(self, cases: list[tuple[Case, str, bool]], test: Callable[[Case, str, bool], bool]) -> float:
        return sum(1 for c in cases if test(*c)) / len(cases) if cases else 0.0

    @property
    def correct(self) -> float:
        return self.share(self.results, lambda _c, _o, right: right)

    @property
    def correct_on_answerable(self) -> float:
        return self.share([r for r in self.results if not r[0].defer], lambda _c, _o, right: right)

    @property
    def correct_defer(self) -> float:
        return self.share([r for r in self.results if r[0].defer], lambda _c, _o, right: right)

    @property
    def confidently_wrong(self) -> float:
        return self.share(self.results, lambda _c, outcome, right: outcome != "defer" and not right)

    def figures(self) -> dict[str, float | int | str]:
        return {"half": self.half, "messages": len(self.results), "correct": round(self.correct, 3),
                "correct_on_answerable": round(self.correct_on_answerable, 3),
                "correct_defer": round(self.correct_defer, 3), "confidently_wrong": round(self.confidently_wrong, 3)}

    def line(self) -> str:
        f = self.figures()
        return (f"{f['half']}: {f['messages']} messages · correct {f['correct']:.3f} · correct on answerable "
                f"{f['correct_on_answerable']:.3f} · correct defer {f['correct_defer']:.3f} · "
                f"confidently wrong {f['confidently_wrong']:.3f}")


def read_cases(path: Path, knowledge: Knowledge) -> list[Case]:
    """The labelled messages of one half; labels must name entries, products and places the shop has."""
    try:
        records = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("messages") or []
    except (OSError, yaml.YAMLError) as exc:
        raise ImportFileError(f"{path}: {exc}") from exc
    entries = {e.id for e in knowledge.index.entries}
    provinces = {destination for _origin, destination in knowledge.shipping}
    cases = []
    for number, record in enumerate(records, 1):
        text, answers = str(record.get("text", "")).strip(), tuple(record.get("answers") or ())
        for label in answers:
            kind, _, value = str(label).partition(":")
            known = {"kb": entries, "catalog": knowledge.catalog.products, "shipping": provinces}.get(kind)
            if kind not in OUTCOME_KINDS or (known is not None and value not in known):
                raise ImportFileError(f"{path}: message {number} ({text}): unknown label {label!r}")
        if not text or not answers:
            raise ImportFileError(f"{path}: message {number}: needs `text` and `answers`")
        cases.append(Case(text, answers, record.get("context")))
    return cases


def right(answer: Answer, case: Case) -> bool:
    """Whether the outcome is one of the labels (a family's product list counts for any product it shows)."""
    outcome = answer.answered_by
    if outcome in case.answers:
        return True
    if answer.family:
        return any(f"catalog:{product}" in case.answers for product in answer.products)
    return False


def rasa_reader(url: str, token: str) -> Callable[[str], tuple[str | None, dict[str, str]]]:
    """Intent and entities from a running Rasa server's /model/parse, as the bot would read the message.

    The text goes in simplified, as the router sends it.
    """
    def parse(text: str) -> tuple[str | None, dict[str, str]]:
        body = json.dumps({"text": to_simplified(text)}).encode()
        request = urllib.request.Request(f"{url.rstrip('/')}/model/parse?{urlencode({'token': token})}", data=body,
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            parsed = json.loads(response.read())
        return (parsed.get("intent") or {}).get("name"), {e["entity"]: e.get("value") for e in parsed.get("entities", [])}
    return parse


def evaluate(knowledge: Knowledge, half: str, cases: list[Case],
             read: Callable[[str], tuple[str | None, dict[str, str]]] | None = None) -> Report:
    report = Report(half)
    for case in cases:
        intent, entities = read(case.text) if read else (None, {})
        if intent in HANDOFF_INTENTS:  # a person answers: honest, as a defer is
            report.results.append((case, "defer", case.defer))
            continue
        if intent is not None and intent not in ANSWERED_INTENTS:  # a greeting, the gift form...: not an answer
            report.results.append((case, f"intent:{intent}", False))
            continue
        answer = knowledge.answer(case.text, intent, entities.get("product"), case.context,
                                  entities.get("destination"), detect(case.text))
        report.results.append((case, answer.answered_by, right(answer, case)))
    return report
