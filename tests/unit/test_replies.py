from core.bot_payload import KB, UNSURE, HandoffReason, custom_payload, read_custom
from handoff.router import replies_from_rasa


def test_text_buttons_products_and_metadata():
    replies, handoff = replies_from_rasa([
        {"recipient_id": "x", "text": "答案", "buttons": [{"title": "找店员", "payload": "/request_human"}]},
        {"recipient_id": "x", "custom": {"techan": {"kb": [{"id": "e1", "score": 0.9}]}}},
        {"recipient_id": "x", "text": "为您挑了这几样："},
        {"recipient_id": "x", "custom": {"products": [{"id": "p1", "name": "茶"}]}},
    ])
    assert handoff is None
    assert [r.text for r in replies] == ["答案", "为您挑了这几样："]
    assert replies[0].buttons == [{"title": "找店员", "payload": "/request_human"}]
    assert replies[0].meta == {"kb": [{"id": "e1", "score": 0.9}]}
    assert replies[1].products == [{"id": "p1", "name": "茶"}]
    assert set(replies[0].public()) == {"text", "buttons", "image", "products"}


def test_handoff_payload_is_control_not_a_reply():
    replies, handoff = replies_from_rasa([
        {"text": "正在为您转接"}, {"custom": {"handoff": {"reason": "video_request"}}}])
    assert handoff == "video_request" and len(replies) == 1


def test_unknown_handoff_reason_falls_back_to_customer_request():
    _, handoff = replies_from_rasa([{"custom": {"handoff": {"reason": "whatever"}}}])
    assert handoff == "customer_request"


def test_products_without_text_become_their_own_reply():
    replies, _ = replies_from_rasa([{"custom": {"products": [{"id": "a"}]}}])
    assert len(replies) == 1 and replies[0].text is None and replies[0].products == [{"id": "a"}]


def test_what_an_action_writes_is_what_the_router_reads():
    """The actions build the custom payload and the router reads it with the same module (core/bot_payload)."""
    custom = custom_payload(meta={KB: [{"id": "e1", "score": 0.4}], UNSURE: True}, products=[{"id": "p1"}],
                            handoff=HandoffReason.LOW_CONFIDENCE)
    assert custom == {"techan": {"kb": [{"id": "e1", "score": 0.4}], "unsure": True}, "products": [{"id": "p1"}],
                      "handoff": {"reason": "low_confidence"}}  # the stored names outside checks read
    read = read_custom(custom)
    assert (read.handoff, read.products, read.meta[UNSURE]) == (HandoffReason.LOW_CONFIDENCE, [{"id": "p1"}], True)
    assert read_custom("not a dict") == read_custom(None) == read_custom({})
