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
