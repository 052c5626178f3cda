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
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.questions import (MIN_CJK_GIFT, asks_about_the_bot, asks_for_a_person, gift_entities, is_gift_request,
                           is_greeting, is_question)


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
    """A question is never small talk: send one read as thanks, yes, no or goodbye to the knowledge base;
    nor a gift request unless it says so.

    DIET learnt "不" and "没" endings from short replies ("不用了", "没有了"), so "买个紫砂壶能分期不",
    "拆了尝了一包不喜欢能退不" and "团扇脏了能下水洗吗" came out as deny or goodbye and got "还有什么想了解的吗". A message with
    a question mark or word and enough words of its own (``bot.questions.is_question``) is a
    question: its intent becomes nlu_fallback, which the rules answer from the knowledge base.
    Greetings ("你好，在吗") are left alone. DIET also reads shop questions with 买 as gift requests
    ("买这个有积分吗", "門店在哪裡 想過去看看"), which started the gift form: a question read as
    request_gift that names nothing of a gift (``bot.questions.is_gift_request``) goes to the knowledge base.
    So does a question behind a greeting ("亲 鲜花饼能撑到下个月中旬吗", read as greet) and one read as asking
    who answers that names no person or bot ("咖啡豆是深烘还是浅烘", read as bot_challenge), and one read as
    asking for a person or a video call that names neither, which would hand a plain question to staff.
    """

    SMALL_TALK = frozenset({"goodbye", "thank", "affirm", "deny"})

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
            name = intent.get(INTENT_NAME_KEY)
            entities = gift_entities(message.get(ENTITIES) or [])
            if (name in self.SMALL_TALK and is_question(text)
                    or name == "greet" and not is_greeting(text)
                    or name == "bot_challenge" and not asks_about_the_bot(text)
                    or name in ("request_human", "request_video") and not asks_for_a_person(text)
                    or name == "request_gift" and is_question(text, MIN_CJK_GIFT) and not is_gift_request(text, entities)):
                guarded = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                           PREDICTED_CONFIDENCE_KEY: intent.get(PREDICTED_CONFIDENCE_KEY, 0.0)}
                message.set(INTENT, guarded, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [guarded, *(message.get(INTENT_RANKING_KEY) or [])],
                            add_to_output=True)
        return messages
