"""`Y`: a request the client sent, as a curl command that names the credential's variable instead of its value."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from urllib.parse import quote

from tui.api.transport import SentRequest

SECRET_VAR = "PLATOS_SECRET_KEY"
ADMIN_VAR = "PLATOS_ADMIN_TOKEN"


def curl_command(request: SentRequest) -> str:
    """A shell command reproducing `request`; the credential is `$PLATOS_SECRET_KEY` (or the admin token's)."""
    variable = ADMIN_VAR if request.admin else SECRET_VAR
    parts = ["curl -sS" + ("" if request.method == "GET" else f" -X {shlex.quote(request.method)}")]
    parts[0] += f" {shlex.quote(request.url)}"
    # Double quotes so the shell expands the variable; the value itself never enters the clipboard.
    parts.append(f'-H "Authorization: Bearer ${variable}"')
    parts += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in request.headers]
    if request.body is not None:
        parts.append(f"--data-raw {shlex.quote(request.body)}")
    return " \\\n  ".join(parts)


def pick_request(sent: Sequence[SentRequest], selected: str | None) -> tuple[SentRequest, str] | None:
    """What `Y` copies, with words for the notice: the newest request about the selected row, else the last
    action, else the newest read."""
    newest = list(reversed(sent))
    if selected:
        segment = quote(selected, safe="")
        for request in newest:
            if segment in request.path.split("/"):
                return request, f"the latest request for {selected}"
    for request in newest:
        if not request.read:
            return request, "the last action"
    return (newest[0], "the latest read") if newest else None
