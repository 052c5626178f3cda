"""Custom Rasa actions, served in-process by the app through rasa_sdk's ActionExecutor."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

from actions.gifts import ActionRecommendGifts, ValidateGiftForm
from actions.handoff import ActionRequestHandoff
from actions.knowledge import ActionAnswerQuestion
from knowledge.service import Knowledge


def build_executor(knowledge: Knowledge) -> ActionExecutor:
    """An executor with every action registered, sharing one knowledge service."""
    executor = ActionExecutor()
    for action in (ActionAnswerQuestion(knowledge), ActionRecommendGifts(knowledge), ActionRequestHandoff(),
                   ValidateGiftForm()):
        executor.register_action(action)
    return executor
