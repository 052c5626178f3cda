"""Rasa components of our own (Rasa imports them by path from the project root)."""

from __future__ import annotations

from typing import List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class JiebaWordTokenizer(JiebaTokenizer):
    """Jieba without the spaces it yields as tokens between English words.

    A space is a token to Jieba, so the entity extractor could tag it: "jerky " or a lone " " came
    out as a product, and a lone space is a product the shop "does not sell".
    """

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        return [token for token in super().tokenize(message, attribute) if token.text.strip()]
