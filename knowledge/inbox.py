"""The owner's unanswered-questions inbox: open questions grouped by meaning."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from knowledge.service import Knowledge

SAME_QUESTION = 0.92  # e5 cosine above which two customer questions ask the same thing


@dataclass
class Group:
    ids: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)
    suggestion: tuple[str, float] | None = None  # closest KB entry and its score


def group_questions(knowledge: Knowledge, questions: list[tuple[int, str, str]]) -> list[Group]:
    """Greedy grouping of (id, text, reason) by embedding similarity; biggest groups first."""
    if not questions:
        return []
    vectors = knowledge.embedder.encode([text for _, text, _ in questions])
    groups: list[Group] = []
    heads: list[np.ndarray] = []
    for (question_id, text, reason), vector in zip(questions, vectors):
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
    for group, head in zip(groups, heads):
        hits = knowledge.index.search(group.texts[0], k=1, query_vector=head)
        group.suggestion = (hits[0].id, round(hits[0].score, 3)) if hits else None
    return sorted(groups, key=lambda g: -len(g.ids))
