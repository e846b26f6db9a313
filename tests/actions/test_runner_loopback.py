"""The runner over real loopback HTTP: a cancel whose connection drops after it was sent is audited as
`unknown`, never `failed`, is not sent again, and the post-action verification decides what happened."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tui.actions.audit import read_entries
from tui.actions.results import Outcome
from tui.api import wire
from tui.api.client import EngineClient
from tui.api.guard import WriteGuard
from tui.model import RunStatus

from .conftest import RunnerFactory

DATA = Path(__file__).parent.parent / "api" / "data"
SECRET = "tr_dev_abcdefghijklmnopqrstuvwx"


async def test_a_dropped_cancel_is_unknown_then_verified(make_runner: RunnerFactory) -> None:
    recorded = {**json.loads((DATA / "run_retrieve.json").read_text()), "id": "run_1"}
    run = wire.parse_run_detail({**recorded, "status": "EXECUTING"}).run
    canceled = {**recorded, "status": "CANCELED"}
    requests: list[str] = []

    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        requests.append(head.split(" HTTP/")[0])
        if head.startswith("POST"):
            writer.close()  # the cancel reached the server, and its answer never comes back
            return
        body = json.dumps(canceled).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(engine, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = EngineClient(f"http://127.0.0.1:{port}", SECRET, guard=WriteGuard(read_only=False))
    try:
        result = await asyncio.wait_for(make_runner(client=client).cancel_run(run), 10)
    finally:
        await client.aclose()
        server.close()
    assert result.outcome is Outcome.UNKNOWN
    assert result.message.startswith("outcome unknown: connection failed: ") and result.message.endswith("; verifying")
    assert result.verification is not None and result.verification.verified
    assert requests[0] == "POST /api/v2/runs/run_1/cancel" and requests.count(requests[0]) == 1
    (entry,) = read_entries()
    assert entry.outcome == "unknown" and entry.verification is not None
    assert RunStatus.CANCELED.value in json.dumps(entry.verification)
