"""The line a chat gets when a call ends: its length in the customer's words, or that it never connected."""

from calls.bridge import ended_line


def test_a_call_that_connected_says_how_long_it_lasted_in_the_customers_language():
    assert ended_line("video", 192, "zh") == "视频通话已结束，通话时长 3 分 12 秒。"
    assert ended_line("voice", 45, "zh") == "语音通话已结束，通话时长 45 秒。"
    assert ended_line("video", 192, "en") == "The video call has ended (3 min 12 s)."
    assert ended_line("voice", 0, "en") == "The voice call has ended (0 s)."


def test_a_call_that_never_connected_says_so():
    assert ended_line("video", None, "zh") == "视频通话已结束（没有接通）。"
    assert ended_line("voice", None, "en") == "The voice call has ended (it never connected)."
