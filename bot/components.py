"""Rasa components of our own (Rasa imports them by path from the project root)."""

from __future__ import annotations

from typing import Any, Dict, List, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.questions import gift_entities, overruled_intent


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class JiebaWordTokenizer(JiebaTokenizer):
    """Jieba without the spaces it yields as tokens between English words.

    A space is a token to Jieba, so the entity extractor could tag it: "jerky " or a lone " " came
    out as a product, and a lone space is a product the shop "does not sell".
    """

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        return [token for token in super().tokenize(message, attribute) if token.text.strip()]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class QuestionGuard(GraphComponent, IntentClassifier):
    """Re-reads what DIET got wrong in ways customers noticed (``bot.questions.overruled_intent``).

    Questions read as thanks, yes, no, goodbye or a greeting got "还有什么想了解的吗" or a greeting back; shop
    questions read as gift requests ("买这个有积分吗") started the gift form; plain questions read as asking for a
    person were handed to staff; "can I speak to customer service?" read as a storage question got an answer
    instead of a person. Such a message gets the intent ``overruled_intent`` gives it, ranked above DIET's.
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        return [IntentClassifier]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> QuestionGuard:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent, text = message.get(INTENT) or {}, message.get(TEXT) or ""
            entities = gift_entities(message.get(ENTITIES) or [], text)
            if overruled := overruled_intent(intent.get(INTENT_NAME_KEY), text, entities):
                guarded = {INTENT_NAME_KEY: overruled, PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY, 0.0)}
                message.set(INTENT, guarded, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [guarded, *(message.get(INTENT_RANKING_KEY) or [])],
                            add_to_output=True)
        return messages
