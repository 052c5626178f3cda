"""The owner's unanswered-questions inbox: open questions grouped by meaning.

A question leaves the inbox when the owner resolves it, or — checked each time the inbox is read —
once the current knowledge base answers it confidently (``Knowledge.answer``, what the bot does),
with something other than the answer the customer already found no help.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from knowledge.service import Knowledge
from core.language import detect

SAME_QUESTION = 0.92  # e5 cosine above which two customer questions ask the same thing


@dataclass
class Group:
    ids: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    answers: list[str | None] = field(default_factory=list)  # what each question got, beside ``texts``
    suggestion: tuple[str, float] | None = None  # closest KB entry and its score


class AnsweredNow:
    """Whether the current knowledge base answers a question, remembered until the KB changes."""

    def __init__(self) -> None:
        self._index: object | None = None
        self._results: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    def __call__(self, knowledge: Knowledge, text: str, answer_given: str | None) -> bool:
        with self._lock:
            if knowledge.index is not self._index:  # a new snapshot: answers may have changed
                self._index, self._results = knowledge.index, {}
            key = (text, answer_given or "")
            if key not in self._results:
                self._results[key] = answers(knowledge, text, answer_given)
            return self._results[key]


def answers(knowledge: Knowledge, text: str, answer_given: str | None = None) -> bool:
    """The bot would now answer ``text`` confidently (not "we don't sell that"), and not with ``answer_given``."""
    answer = knowledge.answer(text, language=detect(text))
    if not answer.confident or answer.answered_by == "not_sold":
        return False
    return not answer_given or answer.text.strip() != answer_given.strip()


def group_questions(knowledge: Knowledge, questions: list[tuple]) -> list[Group]:
    """Greedy grouping of (id, text, reason[, answer]) by embedding similarity; biggest groups first."""
    if not questions:
        return []
    vectors = knowledge.embedder.encode([question[1] for question in questions])
    groups: list[Group] = []
    heads: list[np.ndarray] = []
    for (question_id, text, reason, *answer), vector in zip(questions, vectors):
        similarities = [float(vector @ head) for head in heads]
        if similarities and max(similarities) >= SAME_QUESTION:
            group = groups[int(np.argmax(similarities))]
        else:
            group = Group()
            groups.append(group)
            heads.append(vector)
        group.ids.append(question_id)
        group.texts.append(text)
        group.reasons.add(reason)
        group.answers.append(answer[0] if answer else None)
    for group, head in zip(groups, heads):
        hits = knowledge.index.search(group.texts[0], k=1, query_vector=head)
        group.suggestion = (hits[0].id, round(hits[0].score, 3)) if hits else None
    return sorted(groups, key=lambda g: -len(g.ids))
