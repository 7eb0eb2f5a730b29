"""Clock skew (issue 18, point 6): a node learns its offset to its peers from their
signed `/health` stamps and reports it in its own `/health`, with a warning as it
approaches `round.message_max_age`; a lying minority and stamps not signed by the
peer probed do not move it. Real nodes on loopback (scripted engine STAND-IN)."""

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from eth_account import Account

from node.peers.clock import PeerClock, read_stamp
from reputation.envelope import sign_envelope


async def health(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(url + "/health") as resp:
        out: dict[str, Any] = await resp.json()
        return out


async def measure(clock: PeerClock, node: Any) -> None:
    """What the health loop does for one peer: read its stamp, timed on `clock`."""
    sent = clock.clock()
    body = await health(node.url)
    clock.observe(node.ctx.address, body["clock"]["stamp"], sent, clock.clock())


def shifted(by: float) -> Callable[[], float]:
    return lambda: time.time() + by


async def test_a_stamp_counts_only_signed_by_the_peer_probed(api_swarm) -> None:
    async with api_swarm(2) as swarm:
        peer = swarm.nodes[1]
        stamp = (await health(peer.url))["clock"]["stamp"]
        assert read_stamp(stamp, peer.ctx.address) == stamp["timestamp"]
        assert read_stamp(stamp, swarm.nodes[0].ctx.address) is None  # relayed: not its own
        assert (
            read_stamp({**stamp, "timestamp": stamp["timestamp"] + 500}, peer.ctx.address) is None
        )
        other = sign_envelope(Account.create(), "clock", None, {}, timestamp=stamp["timestamp"])
        assert read_stamp(other, peer.ctx.address) is None
        answer = sign_envelope(peer.ctx.account, "answer", None, {})  # another type
        assert read_stamp(answer, peer.ctx.address) is None
        assert read_stamp("not a stamp", peer.ctx.address) is None


async def test_a_node_with_a_shifted_clock_learns_its_skew_and_reports_it(api_swarm) -> None:
    async with api_swarm(3) as swarm:
        node = swarm.nodes[0]
        clock = node.ctx.peers.peer_clock
        assert (await health(node.url))["clock"]["warning"] is None
        clock.clock = shifted(90.0)  # 90 s ahead: still accepted (120 s), but close
        for peer in swarm.nodes[1:]:
            await measure(clock, peer)
        report = (await health(node.url))["clock"]
        assert report["peers"] == 2 and report["max_age"] == 120.0
        assert report["offset"] == pytest.approx(-90.0, abs=5.0)
        assert "90" in report["warning"] and "ahead" in report["warning"]
        # and its own stamp, read by a peer, shows the same skew from the other side
        theirs = swarm.nodes[1].ctx.peers.peer_clock
        await measure(theirs, node)
        assert theirs.offsets[node.ctx.address.lower()] == pytest.approx(90.0, abs=5.0)


async def test_a_lying_minority_does_not_move_the_median(api_swarm) -> None:
    async with api_swarm(4) as swarm:
        liar = swarm.nodes[3]
        liar.ctx.peers.peer_clock.clock = shifted(1000.0)  # signs stamps 1000 s ahead
        clock = swarm.nodes[0].ctx.peers.peer_clock
        for peer in swarm.nodes[1:]:
            await measure(clock, peer)
        report = (await health(swarm.nodes[0].url))["clock"]
        assert report["by_peer"][liar.ctx.address.lower()] == pytest.approx(1000.0, abs=5.0)
        assert report["offset"] == pytest.approx(0.0, abs=5.0) and report["warning"] is None
        stranger = Account.create()
        forged = sign_envelope(stranger, "clock", None, {}, timestamp=clock.clock() + 5000)
        clock.observe(swarm.nodes[1].ctx.address, forged, clock.clock(), clock.clock())
        assert (await health(swarm.nodes[0].url))["clock"]["offset"] == report["offset"]


async def test_the_health_loop_measures_the_skew(api_swarm) -> None:
    async with api_swarm(3) as swarm:
        node = swarm.nodes[0]
        node.ctx.peers.peer_clock.clock = shifted(-300.0)  # 300 s behind: refused by peers
        await node.ctx.peers.refresh()
        report = (await health(node.url))["clock"]
        assert report["offset"] == pytest.approx(300.0, abs=5.0)
        assert "behind" in report["warning"] and "refuse its messages now" in report["warning"]
