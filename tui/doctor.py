"""`platos-tui doctor`: will the console work from here? One line per check, ✓ / ✗ / ! and the fix.

Exit 0 when nothing failed (warnings allowed), 1 when something must be fixed first; an internal error is 2
(the composition root's one line). Never prints a secret: keys are named by prefix and source only.
"""

from __future__ import annotations

import asyncio
import locale
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from tui import __version__
from tui.actions.audit import AuditLog, AuditUnavailable, default_audit_path
from tui.actions.scrub import Scrubber
from tui.api.client import API_VERSION, EngineClient
from tui.api.errors import ApiError, ConnectionFailed, Forbidden, Timeout, Unauthorized
from tui.config import (
    STATE_DIR_ENV,
    ConfigError,
    Overrides,
    Settings,
    config_path,
    load_settings,
    read_config,
    state_dir,
)
from tui.journal.store import default_journal_path, open_journal
from tui.model import Queue, clock_skew_label
from tui.model.text import clean
from tui.profiles import secret_source

OK, FAIL, WARN = "ok", "fail", "warn"
MARKS = {OK: "✓", FAIL: "✗", WARN: "!"}
PLAIN_MARKS = {OK: "ok", FAIL: "XX", WARN: "!!"}
"""For a terminal that cannot print ✓ and ✗ (not UTF-8)."""
MIN_SIZE = (80, 24)
KEY_KINDS = {"dev": "development", "stg": "staging", "prod": "production", "preview": "preview"}
_KEY = re.compile(r"^tr_(dev|stg|prod|preview)_(sk_)?")


@dataclass(frozen=True, slots=True)
class Check:
    state: str
    text: str
    fix: str = ""


class Report:
    """The checks so far, grouped under headings."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, Check | None]] = []

    def heading(self, title: str) -> None:
        self.lines.append((title, None))

    def add(self, state: str, text: str, fix: str = "") -> None:
        self.lines.append(("", Check(state, text, fix)))

    @property
    def failed(self) -> int:
        return sum(1 for _, c in self.lines if c is not None and c.state == FAIL)

    def render(self, out: TextIO, scrub: Scrubber) -> None:
        marks = MARKS if _encodes(out, "✓✗") else PLAIN_MARKS
        for title, check in self.lines:
            if check is None:
                out.write(f"{title}\n")
                continue
            fix = f"; fix: {check.fix}" if check.fix and check.state != OK else ""
            out.write(scrub.text(clean(f"  {marks[check.state]} {check.text}{fix}", 400)) + "\n")


def _encodes(out: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(out, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


# ---------------------------------------------------------------------------------------------- configuration


def _sources(overrides: Overrides, env: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """Where each setting came from: a flag, the environment, the config file, or the default."""
    path = config_path(env)
    data = read_config(path, lambda _msg: None) or {}
    profiles = data.get("profiles") if isinstance(data.get("profiles"), dict) else {}
    table = profiles.get(settings.profile) if isinstance(profiles, dict) else None
    table = table if isinstance(table, dict) else {}
    if overrides.profile:
        profile = "flag --profile"
    elif env.get("PLATOS_PROFILE"):
        profile = "env PLATOS_PROFILE"
    elif data.get("default_profile") == settings.profile:
        profile = f"default_profile in {path}"
    else:
        profile = f"the only profile in {path}" if table else "the environment (no profile)"
    url_var = next((v for v in ("PLATOS_API_URL", "TRIGGER_API_URL") if env.get(v)), None)
    url = "flag --url" if overrides.url else f"env {url_var}" if url_var else f"the profile in {path}"

    def secret(kind: str, variables: tuple[str, ...]) -> str:
        for var in variables:
            value = env.get(var, "")
            if value and not (var == "TRIGGER_ACCESS_TOKEN" and not value.startswith("tr_pat_")):
                return f"env {var}"
        return f"{secret_source(table, kind, env).removeprefix('from ')} in the profile"

    if overrides.read_only:
        access = "from flag --read-only"
    elif "read_only" in table:
        access = f"from read_only in the profile ({path})"
    else:
        access = "the default: only production profiles start read-only"
    return {
        "profile": profile,
        "url": url,
        "secret_key": secret("secret_key", ("PLATOS_SECRET_KEY", "TRIGGER_SECRET_KEY")),
        "admin_token": secret("admin_token", ("PLATOS_ADMIN_TOKEN", "TRIGGER_ACCESS_TOKEN")),
        "access": access,
        "refresh": "flag --refresh" if overrides.refresh else "the profile or the default",
    }


def key_kind(key: str) -> tuple[str, str | None]:
    """(the key's prefix in words safe to print, never the key; its environment kind, None for no known shape)."""
    match = _KEY.match(key)
    if match is None:
        return ("tr_pat_" if key.startswith("tr_pat_") else "?"), None
    kind = KEY_KINDS[match.group(1)]
    # `tr_dev_ + sk_`: printed apart so that no scrubber mistakes the prefix for a key and redacts it.
    return (f"tr_{match.group(1)}_ + sk_" if match.group(2) else f"tr_{match.group(1)}_"), kind + (
        " scoped" if match.group(2) else ""
    )


def check_config(report: Report, overrides: Overrides, env: Mapping[str, str]) -> Settings | None:
    report.heading("Configuration")
    path = config_path(env)
    warnings: list[str] = []
    try:
        settings = load_settings(overrides, env, warn=warnings.append)
    except ConfigError as exc:
        report.add(FAIL, f"configuration: {exc}", "the message names the file and line to fix")
        return None
    for warning in warnings:
        report.add(WARN, clean(warning.removeprefix("warning: "), 300))
    if settings is None:
        report.add(
            FAIL,
            f"no profile configured ({path} has none, PLATOS_API_URL / PLATOS_SECRET_KEY are not set)",
            "platos-tui profile add NAME --url URL --secret-key-env VAR, or set PLATOS_API_URL and PLATOS_SECRET_KEY",
        )
        return None
    sources = _sources(overrides, env, settings)
    report.add(
        OK, f"config file {path}" if path.exists() else f"no config file ({path}); settings from the environment"
    )
    report.add(OK, f"profile {settings.profile}, environment {settings.env_label} (from {sources['profile']})")
    report.add(OK, f"url {settings.url} (from {sources['url']})")
    prefix, kind = key_kind(settings.secret_key)
    if prefix == "tr_pat_":
        report.add(
            FAIL,
            f"secret key is a personal access token (tr_pat_…), from {sources['secret_key']}",
            "use the environment's secret key (tr_prod_…, tr_dev_…); a PAT is for admin_token_env",
        )
    elif kind is None:
        report.add(
            WARN,
            f"secret key of no known shape (from {sources['secret_key']}): treated as production",
            "use a tr_dev_/tr_stg_/tr_prod_/tr_preview_ secret key, or set env_type in the profile",
        )
    else:
        report.add(OK, f"secret key: {kind} key {prefix}… (from {sources['secret_key']})")
    if settings.admin_token:
        report.add(OK, f"admin token: present (from {sources['admin_token']})")
    else:
        report.add(
            WARN,
            "admin token: none (repair queues and the drift check need it)",
            "set admin_token_env or admin_token_command in the profile, or PLATOS_ADMIN_TOKEN",
        )
    mode = "READ-ONLY" if settings.read_only else "WRITE"
    report.add(OK, f"starts {mode} ({sources['access']}); refresh every {settings.refresh_seconds:g} s")
    return settings


# ---------------------------------------------------------------------------------------------- the server


async def _timed(call: Awaitable[Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


def _unreachable_fix(error: ApiError) -> tuple[str, str]:
    text = str(error)
    if isinstance(error, ConnectionFailed) and re.search(r"(?i)certificate|ssl|tls", text):
        return f"TLS failed: {text}", "check the URL's host name and that the server's certificate is valid for it"
    if isinstance(error, Timeout):
        return f"no answer: {text}", "check the network path (VPN, firewall) or raise connect_timeout in the profile"
    if isinstance(error, Unauthorized):
        return f"the server refused the key: {text}", "check the key belongs to this server and environment"
    return f"unreachable: {text}", "check the URL and that the server is up (curl -sS URL/api/v1/whoami)"


async def check_server(report: Report, settings: Settings, client: EngineClient) -> None:
    report.heading("Server")
    try:
        info, took = await _timed(client.environment())
    except ApiError as error:
        text, fix = _unreachable_fix(error)
        report.add(FAIL, text, fix)
        return
    secure = settings.url.startswith("https://")
    tls = "TLS verified" if secure else "plain http, no TLS"
    report.add(OK, f"reachable: whoami answered in {took * 1000:.0f} ms ({tls})")
    if not secure and settings.allow_insecure_http:
        report.add(WARN, "plain http to a remote host: the key travels in clear", "use https://")
    _, kind = key_kind(settings.secret_key)
    server_kind = clean(info.type, 40).lower()
    agrees = kind is None or kind.split(" ")[0].startswith(server_kind[:4])
    line = f"environment {clean(info.slug, 60)}: {server_kind}" + (", PAUSED" if info.paused else "")
    report.add(
        OK if agrees else WARN, line, "" if agrees else "the key's prefix and the server disagree; check the key"
    )
    queues = await _reads(report, client)
    await _admin(report, settings, client, queues)
    report.add(OK, f"API version {API_VERSION} (sent as x-trigger-api-version; the answers parsed in its vocabulary)")
    skew = client.clock_skew
    label = clock_skew_label(skew)
    if label is None:
        report.add(OK, f"clock: within 5 s of the server's ({(skew or 0.0):+.0f} s)")
    else:
        report.add(
            WARN,
            f"clock: {label} (ages follow the server's clock, but timestamps here will differ)",
            "sync this machine's clock (chrony or systemd-timesyncd)",
        )


async def _first_queues(client: EngineClient) -> list[Queue]:
    pages = client.queue_pages()
    try:
        return list((await anext(pages)).items)
    finally:
        close = getattr(pages, "aclose", None)  # an async generator: close it rather than leave it to the GC
        if callable(close):
            await close()


async def _reads(report: Report, client: EngineClient) -> list[Queue]:
    """A cheap read per area; runs and queues are needed, the rest only dims one pane. Returns page 1 of queues."""
    queues: list[Queue] = []

    async def read_queues() -> None:
        queues.extend(await _first_queues(client))

    areas: list[tuple[str, bool, Callable[[], Awaitable[Any]]]] = [
        ("runs", True, lambda: client.list_runs(page_size=1)),
        ("queues", True, read_queues),
        ("waitpoint tokens", False, lambda: client.list_tokens(page_size=1)),
        ("deployments", False, client.current_deployment),
    ]
    for name, needed, read in areas:
        try:
            await read()
        except Forbidden as error:
            state = FAIL if needed else WARN
            report.add(state, f"{name}: this key cannot read them ({error})", "use a key whose scopes include them")
        except ApiError as error:
            report.add(FAIL if needed else WARN, f"{name}: {error}", "see the server's logs for this route")
        else:
            report.add(OK, f"{name}: readable")
    return queues


async def _admin(report: Report, settings: Settings, client: EngineClient, queues: list[Queue]) -> None:
    if not settings.admin_token:
        return
    try:
        # One queue's dry run is the cheapest admin call; with no queue it repairs nothing either way.
        await client.repair_queues([q.stored_name for q in queues[:1]], dry_run=True)
    except (Unauthorized, Forbidden) as error:
        report.add(FAIL, f"admin token refused: {error}", "use the PAT of a user with admin = true")
    except ApiError as error:
        report.add(WARN, f"admin token: the check failed ({error})", "try a repair dry run (R) in the console")
    else:
        report.add(OK, "admin token accepted (a repair dry run answered)")


# ---------------------------------------------------------------------------------------------- this machine


def check_state(report: Report) -> None:
    report.heading("This machine")
    directory = state_dir()
    fix = f"make {directory} writable, or point {STATE_DIR_ENV} at a writable directory"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".doctor-"):
            pass
        AuditLog(default_audit_path()).check()
        open_journal(default_journal_path(), write=True).close()
    except (OSError, AuditUnavailable) as exc:
        reason = exc.reason if isinstance(exc, AuditUnavailable) else exc.strerror or type(exc).__name__
        report.add(FAIL, f"state directory {directory}: not writable ({reason}); actions would be refused", fix)
    except Exception as exc:  # sqlite3.Error: the journal alone is broken, the console still works
        path = default_journal_path()
        report.add(WARN, f"journal {path}: {clean(str(exc), 120)}", f"move it aside (mv {path} {path}.bad)")
    else:
        report.add(OK, f"state directory {directory}: writable (audit log, journal)")


def terminal_size() -> tuple[int, int] | None:
    """The size of the terminal on stdin, stdout or stderr (doctor's output may be piped); None without one."""
    for fd in (1, 2, 0):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        return size.columns, size.lines
    return None


def check_terminal(report: Report, env: Mapping[str, str], size: tuple[int, int] | None, encoding: str) -> None:
    report.heading("Terminal")
    term = env.get("TERM", "")
    if not term or term == "dumb":
        report.add(FAIL, f"TERM is {term or 'not set'}", "run in a terminal emulator, or export TERM=xterm-256color")
    else:
        colour = env.get("COLORTERM", "")
        depth = "truecolor" if colour in ("truecolor", "24bit") else "256 colours" if "256" in term else "16 colours"
        no_color = "; NO_COLOR set: states still read in words" if "NO_COLOR" in env else ""
        report.add(OK, f"TERM {clean(term, 40)}, {depth}{no_color}")
    locale_name = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    utf8 = "utf" in encoding.lower().replace("-", "") or "utf" in locale_name.lower().replace("-", "")
    if utf8:
        report.add(OK, f"UTF-8 ({clean(locale_name or encoding, 40)})")
    else:
        report.add(WARN, f"not UTF-8 ({clean(locale_name or encoding, 40)}): lines and marks draw badly",
                   "export LANG=C.UTF-8")  # fmt: skip
    if size is None:
        report.add(WARN, "size unknown: not run in a terminal", "run platos-tui doctor in the terminal you will use")
        return
    width, height = size
    if width >= MIN_SIZE[0] and height >= MIN_SIZE[1]:
        report.add(OK, f"size {width}x{height}")
    else:
        report.add(WARN, f"size {width}x{height}: smaller than {MIN_SIZE[0]}x{MIN_SIZE[1]}", "enlarge the window")


# ---------------------------------------------------------------------------------------------- the command


def doctor_command(
    overrides: Overrides,
    out: TextIO,
    *,
    make_client: Callable[[Settings], EngineClient],
    environ: Mapping[str, str] | None = None,
    size: tuple[int, int] | None = None,
) -> int:
    env = os.environ if environ is None else environ
    report = Report()
    out.write(f"platos-tui {__version__} doctor\n")
    settings = check_config(report, overrides, env)
    scrub = Scrubber((settings.secret_key, settings.admin_token) if settings is not None else ())
    if settings is not None:
        try:
            client = make_client(settings)
        except ApiError as error:
            report.heading("Server")
            report.add(FAIL, str(error), "fix the url in the profile or PLATOS_API_URL")
        else:
            asyncio.run(_server(report, settings, client))
    check_state(report)
    encoding = getattr(sys.stdout, "encoding", None) or locale.getpreferredencoding(False)
    check_terminal(report, env, size or terminal_size(), encoding)
    report.render(out, scrub)
    failed = report.failed
    out.write("The console will work.\n" if not failed else f"{failed} to fix before the console will work.\n")
    return 0 if not failed else 1


async def _server(report: Report, settings: Settings, client: EngineClient) -> None:
    try:
        async with client.burst():
            await check_server(report, settings, client)
    finally:
        await client.aclose()
