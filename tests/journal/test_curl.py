"""`Y`: the request behind the selected row, or the last action, as curl with `$PLATOS_SECRET_KEY` for the key."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.app.actions_sim import rig, wait_note
from tests.app.harness import wait_for
from tests.app.test_actions_queues import confirm, select
from tui.api.curl import curl_command, pick_request
from tui.api.transport import RECENT_REQUESTS, SentRequest
from tui.sim import server


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATOS_TUI_STATE_DIR", str(tmp_path))
    return tmp_path


def sent(method: str, path: str, *, body: str | None = None, read: bool = True, admin: bool = False) -> SentRequest:
    headers = (("x-trigger-api-version", "2025-07-16"),)
    return SentRequest(method, f"https://platos.example.com{path}", path, headers, body, admin, read)


def test_a_post_becomes_curl_with_the_key_by_name_and_a_quoted_body() -> None:
    command = curl_command(
        sent("POST", "/api/v1/waitpoints/tokens/t1/complete", body='{"data":"it\'s ok"}', read=False)
    )
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[:4] == ["curl", "-sS", "-X", "POST"]
    assert "https://platos.example.com/api/v1/waitpoints/tokens/t1/complete" in argv
    assert argv[argv.index("--data-raw") + 1] == '{"data":"it\'s ok"}'
    assert '-H "Authorization: Bearer $PLATOS_SECRET_KEY"' in command  # double quotes: the shell expands it
    assert "$PLATOS_ADMIN_TOKEN" in curl_command(sent("POST", "/admin/api/v1/x", read=False, admin=True))


def test_the_selected_rows_request_wins_then_the_last_action_then_the_latest_read() -> None:
    history = [
        sent("GET", "/api/v3/runs/run_a"),
        sent("POST", "/api/v2/runs/run_b/cancel", read=False),
        sent("GET", "/api/v1/queues/task%2Fx/metrics"),
        sent("GET", "/api/v1/queues"),
    ]
    assert pick_request(history, "run_a") == (history[0], "the latest request for run_a")
    assert pick_request(history, "task/x") == (history[2], "the latest request for task/x")
    assert pick_request(history, "run_zzz") == (history[1], "the last action")
    assert pick_request(history[2:], None) == (history[3], "the latest read")
    assert pick_request([], "run_a") is None


async def test_y_copies_the_selected_queues_read_then_the_resume_it_sent(state_dir: Path) -> None:
    async with rig("queue-paused", refresh=0.05) as r:
        await select(r, "process-video")
        await wait_for(
            r.pilot,
            lambda: (
                r.app.session is not None
                and any("process-video" in s.path for s in r.app.session.client.sent_requests())
            ),
        )
        await r.pilot.press("Y")
        copied = r.app.clipboard
        argv = shlex.split(copied.replace("\\\n", " "), posix=True)
        assert argv[:2] == ["curl", "-sS"] and argv[2].startswith("http://127.0.0.1/api/v1/queues/process-video")
        assert "$PLATOS_SECRET_KEY" in copied and server.DEFAULT_SECRET_KEY not in copied
        assert "Copied curl for the latest request for process-video" in r.notifications()
        await r.pilot.press("p")
        await confirm(r)
        await wait_note(r, "verified")
        assert r.app.session is not None
        done = len(r.transport.requests)  # the panes go on polling: many more reads than the client keeps
        await wait_for(r.pilot, lambda: len(r.transport.requests) > done + RECENT_REQUESTS, timeout=15)
        picked = pick_request(r.app.session.client.sent_requests(), None)  # nothing selected: the last action
        assert picked is not None and picked[1] == "the last action"
        command = curl_command(picked[0])
        assert command.startswith("curl -sS -X POST http://127.0.0.1/api/v1/queues/process-video/pause")
        assert '"action":"resume"' in command and server.DEFAULT_SECRET_KEY not in command
