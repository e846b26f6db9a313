"""Under EngineClient: headers, credential routing, the request budget, retries and the error taxonomy."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import httpx

from tui import __version__
from tui.api.answer import (
    ACCEPT_ENCODING,
    ERROR_BODY_LIMIT,
    Answer,
    body_float,
    decode_json,
    error_body,
    http_date,
    int_header,
    read_body,
    retry_after,
)
from tui.api.budget import RequestBudget, Sleep
from tui.api.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidResponse,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    Timeout,
    Unauthorized,
)
from tui.api.http11 import Http11Transport
from tui.api.memo import MISSING, AnswerMemo
from tui.model.text import clean

T = TypeVar("T")

API_VERSION = "2025-07-16"
USER_AGENT = f"platos-tui/{__version__}"
NO_BODY: Any = object()

PREVIEW_KEY_PREFIX = "tr_preview_"
BRANCH_HINT = (
    'a tr_preview_ key needs a branch: set branch = "..." in the profile, PLATOS_BRANCH or TRIGGER_PREVIEW_BRANCH'
)
_BRANCH = re.compile(r"^[\x21-\x7e]{1,256}$")

# Key shapes of API.md §1.2, redacted from anything a server sends back, in case it echoes a credential.
_KEY_PATTERN = re.compile(r"\b(tr_(?:dev|stg|prod|preview|pat|oat|uat)_[A-Za-z0-9_]+|pk_[a-z]+_[A-Za-z0-9_]+)")


RECENT_REQUESTS = 32
"""Requests kept for `Y` (copy as curl): the newest per pane is always among them."""
URLS_KEPT = 512
"""Parsed request URLs kept for reuse (all are dropped when it fills: a triage reads a few hundred)."""
COPIED_HEADERS = ("accept", "content-type", "x-trigger-api-version", "x-trigger-branch")
"""The headers a reproduction needs; the credential is added by name, never by value."""


@dataclass(frozen=True, slots=True)
class SentRequest:
    """A request as it was sent, minus its credential: what `Y` turns into a curl command."""

    method: str
    url: str
    path: str
    """Percent-encoded, without the query."""
    headers: tuple[tuple[str, str], ...]
    body: str | None
    admin: bool
    """Sent with the admin token (an /admin/api/ path), else with the secret key."""
    read: bool
    """A read (retried when it fails), else an action sent once."""


class ConnectionState(StrEnum):
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    RETRYING = "RETRYING"
    DISCONNECTED = "DISCONNECTED"
    UNAUTHORIZED = "UNAUTHORIZED"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to connect, between reads, and for a whole attempt (`total`, by default the read timeout)."""

    connect: float = 3.0
    read: float = 10.0
    total: float | None = None

    @property
    def deadline(self) -> float:
        # One bound for the whole answer: a server trickling bytes never trips the per-read timeout.
        return self.total if self.total is not None else self.read


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Reads only: capped, jittered exponential backoff (0.5, 1, 2, ... at most 8 s), 4 attempts in all."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_rate_limit_wait: float = 10.0
    """A 429 whose bucket refills later than this is raised at once instead of waited out."""


class Secret:
    """A credential that never shows itself in repr, str or an f-string."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


def _seconds(value: float) -> str:
    return f"{value:g} s"


def checked_base_url(base_url: str, allow_insecure_http: bool) -> httpx.URL:
    """Parse the base URL and refuse plain http to anything but loopback (unless explicitly allowed)."""
    try:
        url = httpx.URL(base_url.rstrip("/"))
    except (httpx.InvalidURL, TypeError):
        raise ConfigurationError("invalid server URL: expected https://host[:port]") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError("invalid server URL: expected https://host[:port]")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ConfigurationError(
            "refusing plain http:// to a non-loopback host (the key would travel in clear): "
            "use https:// or set allow_insecure_http = true in the profile"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Requester:
    """Sends one logical call: picks the credential by path, paces it, retries reads, maps failures."""

    def __init__(
        self,
        base_url: httpx.URL,
        secret_key: Secret,
        admin_token: Secret | None,
        *,
        timeouts: Timeouts,
        budget: RequestBudget,
        transport: httpx.AsyncBaseTransport | None,
        retry: RetryPolicy,
        max_response_mb: float = 32.0,
        branch: str | None = None,
        sleep: Sleep = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if branch is not None and not _BRANCH.match(branch):
            raise ConfigurationError("invalid preview branch name: printable ASCII without spaces, at most 256")
        self.branch = branch
        self._preview = secret_key.reveal().startswith(PREVIEW_KEY_PREFIX)
        self._max_mb = max_response_mb
        self._max_bytes = max(1, int(max_response_mb * 1024 * 1024))
        self._secret = secret_key
        self._admin = admin_token
        self._timeouts = timeouts
        self._budget = budget
        self._retry = retry
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._jitter = jitter
        self.state = ConnectionState.CONNECTING
        self.last_error: str | None = None
        self.clock_offset: float | None = None
        """Seconds the server's clock is ahead of ours, from the last answer's `Date` header; None until one."""
        self.recent: deque[SentRequest] = deque(maxlen=RECENT_REQUESTS)
        """The latest requests sent, oldest first, credentials left out."""
        self.last_action: SentRequest | None = None
        """The latest mutation, kept however many reads follow it."""
        self._memo = AnswerMemo()
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = {}
        # Plain http never does TLS (and redirects are off), so skip loading the CA bundle: ~30 ms at start-up.
        verify = not str(base_url).startswith("http://")
        self._transport = transport if transport is not None else Http11Transport(verify=verify)
        self._base = str(base_url).rstrip("/")
        self._timeout = httpx.Timeout(timeouts.read, connect=timeouts.connect).as_dict()
        # httpx's client sends Connection itself: kept, so the requests read on the wire as they always did.
        self._headers = {
            "Connection": "keep-alive",
            "x-trigger-api-version": API_VERSION,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        }

    @property
    def has_admin_token(self) -> bool:
        return self._admin is not None

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _credential(self, path: str) -> str:
        # The routing rule: the secret key only ever goes to /api/, the admin token only to /admin/api/.
        if path.startswith("/admin/api/"):
            if self._admin is None:
                raise ConfigurationError("no admin token configured: set admin_token_env or PLATOS_ADMIN_TOKEN")
            return self._admin.reveal()
        if path.startswith("/api/"):
            return self._secret.reveal()
        raise ConfigurationError(f"refusing to send a credential to {clean(path, 60)}")

    def redact(self, text: str) -> str:
        for secret in (self._secret, self._admin):
            if secret is not None and secret.reveal():
                text = text.replace(secret.reveal(), "***")
        return _KEY_PATTERN.sub("***", text)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = NO_BODY,
        retry: bool,
        fail_fast_404: bool = False,
        final_500: bool = False,
        attempts: int | None = None,
        server_error_hint: str | None = None,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        """One logical call; returns the decoded JSON body of a 2xx answer or raises an ApiError.

        `retry` is True only for reads: a mutation is sent once and never again. `fail_fast_404` makes a
        404 final even when the server says `x-should-retry: true` (interactive look-ups); `final_500` does
        the same for a 500 the route is known to give for good. `attempts` lowers the policy's attempt count.
        `parse` (into frozen values) returns what it makes of the body instead; for a read it is remembered by
        the body's bytes (see `tui.api.memo`).
        """
        credential = self._credential(path)
        headers = {"Authorization": f"Bearer {credential}"}
        if self.branch is not None and path.startswith("/api/"):
            # A preview key names the parent environment; the branch picks the child (API.md §1.2, §1.5).
            headers["x-trigger-branch"] = self.branch
        limit = min(attempts, self._retry.attempts) if attempts is not None else self._retry.attempts
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._budget.slot():
                    answer = await self._exchange(method, path, params, headers, body, read=retry)
                self._observe_clock(answer)
                self._observe_ratelimit(answer)
            except httpx.TransportError as exc:
                error = self._transport_error(exc, mutation=not retry)
                if retry and attempt < limit:
                    await self._wait(self._backoff(attempt), error)
                    continue
                self._fail(error, ConnectionState.DISCONNECTED)
                raise error from None
            except TimeoutError:
                # Past the total deadline: not retried, so a trickling server costs one deadline, not four.
                error = self._deadline_error(mutation=not retry)
                self._fail(error, ConnectionState.DISCONNECTED)
                raise error from None
            except InvalidResponse as invalid:
                self._fail(invalid, ConnectionState.CONNECTED)
                raise
            if answer.ok:
                known = MISSING if parse is None or not retry else self._memo.get(answer.content, parse)
                data = self._decode(answer) if known is MISSING else None
                self.state, self.last_error = ConnectionState.CONNECTED, None
                if known is not MISSING:
                    return known
                if parse is None:
                    return data
                value = self.parse(parse, data)
                if retry:
                    self._memo.put(answer.content, parse, value)
                return value
            error = self._status_error(answer, is_admin=path.startswith("/admin/"), hint=server_error_hint)
            final = (fail_fast_404 and answer.status == 404) or (final_500 and answer.status == 500)
            delay = self._retry_delay(answer, attempt, limit, final) if retry else None
            if delay is not None:
                await self._wait(delay, error)
                continue
            self._record(error, answer.status)
            raise error

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        headers: dict[str, str],
        body: Any,
        *,
        read: bool = True,
    ) -> Answer:
        """Send one attempt and read its body as a stream, within the size cap and the total deadline.

        Straight to the transport: httpx's client would add only what this client never uses (a base URL merged
        in three URL parses, cookies, auth flows, redirects), at about a third of a small request's cost.
        """
        extra: dict[str, Any] = {} if body is NO_BODY else {"json": body}
        request = httpx.Request(
            method,
            self._url(path, params),
            headers={**self._headers, **headers},
            extensions={"timeout": self._timeout},
            **extra,
        )
        self._remember(request, read)
        async with asyncio.timeout(self._timeouts.deadline):
            response = await self._transport.handle_async_request(request)
            response.request = request
            try:
                if response.is_success:
                    content = await read_body(response, self._max_bytes, truncate=False)
                    if content is None:
                        raise InvalidResponse(f"response from {clean(path, 80)} exceeded {self._max_mb:g} MB")
                else:
                    content = await read_body(response, ERROR_BODY_LIMIT, truncate=True) or b""
            finally:
                await response.aclose()
        return Answer(response.status_code, response.headers, content)

    def _url(self, path: str, params: Mapping[str, str] | None) -> httpx.URL:
        """The request's URL, parsed once: a console polls the same few URLs over and over, and encoding the query
        and parsing the URL is about a twelfth of a small request's CPU."""
        key = (path, tuple(params.items()) if params else ())
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= URLS_KEPT:
                self._urls.clear()
            query = f"?{httpx.QueryParams(params)}" if params else ""
            url = self._urls[key] = httpx.URL(self._base + path + query)
        return url

    def _remember(self, request: httpx.Request, read: bool) -> None:
        kept = tuple((name, request.headers[name]) for name in COPIED_HEADERS if name in request.headers)
        content = request.content.decode("utf-8", errors="replace") if request.content else None
        path = request.url.raw_path.split(b"?")[0].decode("ascii", errors="replace")  # still percent-encoded
        sent = SentRequest(
            request.method,
            self.redact(str(request.url)),
            path,
            kept,
            self.redact(content) if content is not None else None,
            path.startswith("/admin/api/"),
            read,
        )
        if not self.recent or self.recent[-1] != sent:  # a retry is the same request again
            self.recent.append(sent)
        if not read:
            self.last_action = sent

    def _deadline_error(self, *, mutation: bool) -> ApiError:
        message = f"no complete answer in {_seconds(self._timeouts.deadline)}"
        return OutcomeUnknown(message) if mutation else Timeout(message)

    async def _wait(self, delay: float, error: ApiError) -> None:
        self.state, self.last_error = ConnectionState.RETRYING, str(error)
        await self._sleep(delay)

    def _fail(self, error: ApiError, state: ConnectionState) -> None:
        self.state, self.last_error = state, str(error)

    def _record(self, error: ApiError, status: int) -> None:
        if status == 401:
            self._fail(error, ConnectionState.UNAUTHORIZED)
        elif status == 403:
            # A valid key refused on this route only (a scoped key, a non-admin PAT): the rest still works.
            self._fail(error, ConnectionState.CONNECTED)
        elif status >= 500 or status in (408, 429):
            # The server answered, so the connection is fine; the failure is kept for the status bar.
            self._fail(error, ConnectionState.CONNECTED)
        else:
            # A 4xx answer is about this request (a missing run, a bad value), not about the connection.
            self.state = ConnectionState.CONNECTED

    def parse(self, parser: Callable[[Any], T], data: Any) -> T:
        """`parser(data)`, every failure an InvalidResponse kept as the last error."""
        try:
            return parser(data)
        except InvalidResponse as error:
            self.last_error = str(error)
            raise
        except (RecursionError, OverflowError, ValueError) as exc:
            # A safety net: the parsers name the field for every failure they foresee; this catches the rest.
            unreadable = InvalidResponse(f"response could not be read ({type(exc).__name__})")
            self.last_error = str(unreadable)
            raise unreadable from None

    def _decode(self, answer: Answer) -> Any:
        if answer.status == 204 or not answer.content:
            return {}
        try:
            return decode_json(answer.content, answer.status)
        except InvalidResponse as error:
            self._fail(error, ConnectionState.CONNECTED)
            raise

    def _observe_clock(self, answer: Answer) -> None:
        """Ages are judged by the server's clock: keep how far it is from ours (a bastion's clock can be off)."""
        stamp = http_date(answer.headers.get("date"))
        if stamp is not None:
            # Date has whole seconds, truncated: the middle of that second is the best guess.
            self.clock_offset = stamp + 0.5 - self._wall_clock()

    def _observe_ratelimit(self, answer: Answer) -> None:
        remaining, limit = int_header(answer, "x-ratelimit-remaining"), int_header(answer, "x-ratelimit-limit")
        int_header(answer, "x-ratelimit-reset")  # checked here too, so a nonsense value fails every 2xx alike
        self._budget.observe(remaining, limit)

    def _backoff(self, attempt: int) -> float:
        delay = min(self._retry.max_delay, self._retry.base_delay * 2.0 ** (attempt - 1))
        return min(self._retry.max_delay, delay * (0.75 + 0.5 * self._jitter()))

    def _retry_delay(self, answer: Answer, attempt: int, limit: int, final: bool) -> float | None:
        """Seconds to wait before the next attempt of a read, or None to give up (API.md §2.3 order)."""
        if attempt >= limit or final:
            return None
        status = answer.status
        should = answer.headers.get("x-should-retry", "").strip().lower()
        if should == "false":
            return None
        wait = self._server_wait(answer) if status in (429, 503) else None
        if wait is not None:
            return None if wait > self._retry.max_rate_limit_wait else wait + self._jitter()
        if status == 429:
            return self._backoff(attempt)
        if should == "true" or status in (408, 409) or status >= 500:
            return self._backoff(attempt)
        return None

    def _server_wait(self, answer: Answer) -> float | None:
        """How long the server asked us to wait: the later of `x-ratelimit-reset` and `Retry-After`, if any."""
        asked = (self._until_reset(answer), retry_after(answer.headers, self._wall_clock()))
        waits = [wait for wait in asked if wait is not None]
        return max(waits) if waits else None

    def _until_reset(self, answer: Answer) -> float | None:
        reset_ms = int_header(answer, "x-ratelimit-reset")
        if reset_ms is None:
            return None
        wait = reset_ms / 1000.0 - self._wall_clock()
        return wait if wait > 0 else None

    def _transport_error(self, exc: httpx.TransportError, *, mutation: bool) -> ApiError:
        not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if isinstance(exc, httpx.TimeoutException):
            connect = isinstance(exc, httpx.ConnectTimeout)
            limit = self._timeouts.connect if connect else self._timeouts.read
            message = f"{'connect timed out' if connect else 'timed out'} after {_seconds(limit)}"
            error: ApiError = Timeout(message)
        else:
            reason = self.redact(clean(str(exc) or type(exc).__name__, 120))
            verb = "could not connect" if isinstance(exc, httpx.ConnectError) else "connection failed"
            message = f"{verb}: {reason}"
            error = ConnectionFailed(message)
        if not mutation:
            return error
        if not_sent:
            return type(error)(message + "; nothing was sent")
        # The request may have reached the server: the answer is what is missing.
        return OutcomeUnknown(message)

    def _status_error(self, answer: Answer, *, is_admin: bool, hint: str | None) -> ApiError:
        status = answer.status
        server = self._server_message(answer)
        said = f" ({server})" if server else ""
        if status == 401:
            who = "admin token" if is_admin else "key"
            # Without the branch header the real server refuses a preview key outright: say how to fix it.
            hint = f"; {BRANCH_HINT}" if self._preview and self.branch is None and not is_admin else ""
            return Unauthorized(f"401: {who} rejected{said}{hint}", status=status)
        if status == 403:
            return Forbidden(f"403: {server or 'forbidden'}", status=status)
        if status == 404:
            return NotFound(f"404: {server or 'not found'}", status=status)
        if status == 409:
            return Conflict(f"409: {server or 'conflict'}", status=status)
        if status == 429:
            wait = self._server_wait(answer)
            if wait is not None:
                return RateLimited(f"429: rate limited, retry in {wait:.0f} s{said}", retry_after=wait)
            # Not every 429 is the rate limiter (API.md §2.2): bulk replays in flight, concurrent queries.
            wait = body_float(answer, "secondsUntilReset") or 0.0
            return RateLimited(f"429: {server or 'too many requests'}", retry_after=wait)
        if 300 <= status < 400:
            # Never followed: a redirect could carry the credential to another origin.
            return BadRequest(f"{status}: unexpected redirect (not followed)", status=status)
        if status == 408:
            return Timeout(f"408: the server timed out{said}", status=status)
        if status >= 500:
            extra = f" ({hint})" if hint else ""
            wait = self._server_wait(answer) if status == 503 else None
            extra += f" (retry in {wait:.0f} s)" if wait is not None else ""
            return ServerError(f"server {status}{': ' + server if server else ''}{extra}", status=status)
        return BadRequest(f"{status}: {server or 'request rejected'}", status=status)

    def _server_message(self, answer: Answer) -> str | None:
        """The server's `error` text (and first validation detail), sanitised; never headers or raw HTML."""
        body = error_body(answer)
        if not isinstance(body, dict):
            return None
        text = body.get("error") or body.get("detail") or body.get("title")
        if not isinstance(text, str) or not text.strip():
            return None
        details = body.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            first = details[0].get("message")
            if isinstance(first, str) and first:
                text = f"{text}: {first}"
        return self.redact(clean(text.strip(), 200))
