"""Answers read before, byte for byte, are not decoded and parsed again; any other bytes are, strictly."""

from __future__ import annotations

import json

import httpx
import pytest
from api_support import FakeServer, load

from tests.simclient import seed_queue, seed_run, sim
from tui.api.client import EngineClient
from tui.api.errors import InvalidResponse
from tui.api.memo import MISSING, AnswerMemo
from tui.model import RunStatus


def _page(body: object) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


async def test_the_same_bytes_give_the_same_page_and_other_bytes_are_parsed_strictly(
    client: EngineClient, server: FakeServer
) -> None:
    body = load("runs_list")
    changed = json.loads(json.dumps(body))
    changed["data"][0]["status"] = "CANCELED"
    # Equal to the first in Python (1 == True), but a number where JSON has a boolean: the parser refuses it.
    retyped = json.loads(json.dumps(body))
    retyped["data"][0]["isTest"] = 1 if body["data"][0]["isTest"] else 0
    assert retyped == body
    server.then(_page(body), _page(body), _page(changed), _page(retyped), _page(body))
    first = await client.list_runs()
    assert await client.list_runs() is first
    third = await client.list_runs()
    assert third is not first and third.items[0].status is RunStatus.CANCELED
    with pytest.raises(InvalidResponse, match="isTest"):
        await client.list_runs()
    assert await client.list_runs() is first  # still remembered, and the failure did not stick
    assert client.stats().last_error is None


async def test_a_mutation_is_never_answered_from_memory(client: EngineClient, server: FakeServer) -> None:
    listed = (await client.list_queues())[0]
    one = await client.pause_queue(listed, True)
    two = await client.pause_queue(listed, True)
    assert one == two and one is not two
    assert [r.method for r in server.requests].count("POST") == 2


async def test_a_quiet_environment_polled_again_reads_as_the_same_runs_until_one_changes() -> None:
    world = sim()
    seed_queue(world.engine, "agent-turn")
    runs = [seed_run(world.engine, "agent-turn", minutes=20 + i) for i in range(3)]
    client = world.client()
    try:
        first = await client.list_runs(statuses=[RunStatus.EXECUTING])
        again = await client.list_runs(statuses=[RunStatus.EXECUTING])
        assert again is first and len(first.items) == 3
        await client.cancel_run(runs[1].friendly)
        after = await client.list_runs()
        assert after is not first
        assert {r.id: r.status for r in after.items}[runs[1].friendly] is RunStatus.CANCELED
    finally:
        await client.aclose()


def test_the_memo_keeps_the_newest_used_bytes_and_leaves_out_huge_answers() -> None:
    def parse(body: object) -> object:
        return body

    def other(body: object) -> object:
        return body

    memo = AnswerMemo(max_bytes=80)
    memo.put(b"a" * 10, parse, "A")
    memo.put(b"b" * 10, parse, "B")
    assert memo.get(b"a" * 10, other) is MISSING  # another parser's reading of the same bytes is its own
    memo.put(b"c" * 11, parse, "huge")  # over an eighth of the memo
    assert memo.get(b"c" * 11, parse) is MISSING
    assert memo.get(b"a" * 10, parse) == "A"  # used: now the newest
    for i in range(7):
        memo.put(bytes([i]) * 10, parse, i)
    assert memo.get(b"b" * 10, parse) is MISSING  # the least recently used went first
    assert memo.get(b"a" * 10, parse) == "A" and len(memo) == 8


def test_an_answer_not_read_again_for_two_minutes_is_let_go() -> None:
    def parse(body: object) -> object:
        return body

    now = [0.0]
    memo = AnswerMemo(max_bytes=1000, idle_seconds=120.0, clock=lambda: now[0])
    memo.put(b"polled", parse, "P")
    memo.put(b"read-once", parse, "R")
    for _ in range(5):  # a page polled every 30 s stays; an answer nobody reads again goes at its two minutes
        now[0] += 30.0
        assert memo.get(b"polled", parse) == "P"
        memo.put(b"new-%d" % now[0], parse, now[0])
    assert memo.get(b"read-once", parse) is MISSING
    assert memo.get(b"polled", parse) == "P"
    assert len(memo) == 1 + 5  # and the answers put in the last 120 s: at 30, 60, 90, 120 and 150 s
