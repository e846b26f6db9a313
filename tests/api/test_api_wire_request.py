"""The client builds its requests itself: byte for byte what httpx's own client would have sent."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.api.client import EngineClient
from tui.api.guard import WriteGuard

BASES = ("http://127.0.0.1:9", "http://127.0.0.1:9/base", "https://engine.example.com/platos/")
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    base=st.sampled_from(BASES),
    segment=texts,
    params=st.dictionaries(texts, texts, max_size=4),
    body=st.none() | st.dictionaries(texts, texts | st.integers(), max_size=3),
)
async def test_a_request_is_what_httpxs_client_would_send(
    base: str, segment: str, params: dict[str, str], body: dict[str, Any] | None
) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    client = EngineClient(
        base, "tr_dev_abc", transport=httpx.MockTransport(answer), budget_per_second=None, guard=WriteGuard(False)
    )
    path = f"/api/v1/queues/{quote(segment, safe='')}/x"  # as the client's methods encode a name or id
    method = "GET" if body is None else "POST"
    options: dict[str, Any] = {} if body is None else {"body": body}
    for _ in range(2):  # the second from the parsed URL the client keeps
        await client._http.call(method, path, params=params or None, retry=body is None, **options)
    await client._http.call("GET", path, params={**params, "other": "1"}, retry=True)  # kept apart from the first
    await client.aclose()
    reference = httpx.AsyncClient(
        base_url=base.rstrip("/"),
        headers={
            "x-trigger-api-version": sent[0].headers["x-trigger-api-version"],
            "User-Agent": sent[0].headers["user-agent"],
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
        },
        timeout=httpx.Timeout(10.0, connect=3.0),
    )
    extra: dict[str, Any] = {} if body is None else {"json": body}
    expected = reference.build_request(
        method, path, params=params or None, headers={"Authorization": "Bearer tr_dev_abc"}, **extra
    )
    await reference.aclose()
    for request in sent[:2]:
        assert str(request.url) == str(expected.url)
        assert request.headers.raw == expected.headers.raw
        assert request.content == expected.content
    assert sent[2].url.params.get("other") == "1" and len(sent[2].url.params) == len(params) + ("other" not in params)
    assert sent[0].extensions == expected.extensions
