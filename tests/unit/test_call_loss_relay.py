"""The bridge passes the receiving browser's loss to the sending browser in the form Chromium reads it.

Chromium's sender takes loss from the running totals of two successive reports on a stream (packets lost
against the highest sequence number), not from a report's "fraction lost"; before, the bridge only raised
the fraction, and the staff's browser never saw the customer's 30-80 % loss at 300 kbit/s.
"""

from __future__ import annotations

from aiortc.rtp import RtcpReceiverInfo

from calls.passthrough import LossRelay


def report(ssrc: int, highest: int, lost: int) -> RtcpReceiverInfo:
    return RtcpReceiverInfo(ssrc=ssrc, fraction_lost=0, packets_lost=lost, highest_sequence=highest, jitter=0,
                            lsr=0, dlsr=0)


def chromium_loss(before: RtcpReceiverInfo, after: RtcpReceiverInfo) -> float:
    """What Chromium's congestion control reads between two reports on one stream."""
    return (after.packets_lost - before.packets_lost) / (after.highest_sequence - before.highest_sequence)


def test_the_sending_browser_reads_the_receiving_sides_loss_between_our_reports():
    relay, ours = LossRelay(), []
    relay.arrived(report(7, 1000, 0))
    for up_highest, up_lost, down in ((500, 0, (1000, 0)), (600, 0, (1200, 50)), (700, 0, (1300, 50)),
                                      (800, 10, (1400, 55))):
        # Chromium sends a report with each NACK: only the last one before ours counts, not its own share
        relay.arrived(report(7, down[0] - 20, down[1] - 1))
        relay.arrived(report(7, *down))
        ours.append(report(1, up_highest, up_lost))
        relay.raise_report(ours[-1], relay.share_since_last())
    assert [round(chromium_loss(a, b), 2) for a, b in zip(ours, ours[1:])] == [0.25, 0.0, 0.1]
    assert [r.fraction_lost for r in ours] == [0, 64, 0, 12]
    assert [r.packets_lost for r in ours] == [0, 25, 25, 35]  # a running total: it never goes back


def test_our_own_loss_stands_when_it_is_the_larger_and_each_stream_keeps_its_own_totals():
    relay = LossRelay()
    relay.arrived(report(7, 100, 0))
    first_media, first_other = report(1, 100, 0), report(2, 5000, 0)
    share = relay.share_since_last()
    relay.raise_report(first_media, share)
    relay.raise_report(first_other, share)
    relay.arrived(report(7, 200, 5))  # the receiving side lost 5 %
    media, other = report(1, 200, 30), report(2, 5100, 0)  # we lost 30 % of the first stream ourselves
    share = relay.share_since_last()
    relay.raise_report(media, share)
    relay.raise_report(other, share)
    assert chromium_loss(first_media, media) == 0.3 and chromium_loss(first_other, other) == 0.05


def test_a_receiving_side_that_started_again_reports_no_loss_from_before():
    relay = LossRelay()
    relay.arrived(report(7, 40_000, 10))
    relay.share_since_last()
    relay.arrived(report(8, 40_100, 90))  # a reconnect: a new stream, its own totals (that started anywhere)
    assert relay.share_since_last() == 0.0
    relay.arrived(report(8, 40_200, 100))
    assert relay.share_since_last() == 0.1


def test_a_report_of_everything_lost_still_counts_one_packet_received():
    """Chromium ignores a report whose interval has no packet received: all lost is passed on as all but one."""
    relay, first, second = LossRelay(), report(1, 100, 0), report(1, 200, 0)
    relay.arrived(report(7, 1000, 0))
    relay.raise_report(first, relay.share_since_last())
    relay.arrived(report(7, 1100, 100))
    relay.raise_report(second, relay.share_since_last())
    assert second.packets_lost == 99 and second.fraction_lost == 255
