"""Composition root: parse arguments, resolve settings, start the simulator for --demo, run the app or a command."""

from __future__ import annotations

import argparse
import asyncio
import io
import ipaddress
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TextIO

from tui import __version__
from tui.config import ConfigError, Overrides, Plugin, Settings, load_profile, load_settings, profile_names
from tui.model import EnvironmentType, environment_type_from_key

if TYPE_CHECKING:
    from tui.api.client import EngineClient
    from tui.journal import Journal
    from tui.sim.server import RunningSim

SCENARIOS = (
    "incident",
    "healthy",
    "worker-pool-zero",
    "queue-paused",
    "concurrency-cap",
    "long-blocker",
    "entity-offline",
    "orphan-waitpoint",
    "queue-drift",
    "bad-deploy",
    "pending-version",
    "resume-lost",
    "orphaned-run",
    "env-deadlock",
    "worker-crashed",
    "schedule-pileup",
)


DEBUG_ENV = "PLATOS_TUI_DEBUG"


def _warn(message: str) -> None:
    print(f"platos-tui: {message}", file=sys.stderr)


def _fail(message: str) -> int:
    print(f"platos-tui: error: {message}", file=sys.stderr)
    return 2


def _signed_duration(text: str) -> float:
    """`-20m`, `90s`, `1h`, `15` (seconds) as signed seconds, for --clock-skew."""
    sign, body = (-1.0, text[1:]) if text.startswith("-") else (1.0, text.removeprefix("+"))
    unit = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(body[-1:])
    number = body[:-1] if unit is not None else body
    try:
        seconds = sign * float(number) * (unit or 1.0)
    except ValueError:
        seconds = float("nan")
    if not abs(seconds) <= 7 * 86400:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"not a duration within 7 days: {text!r} (e.g. -20m, 90s, 1h)")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="platos-tui",
        description="Incident console for platos / Trigger.dev v4 run engines. With no COMMAND, the console "
        "opens. Secrets come from the profile or the environment (PLATOS_SECRET_KEY, PLATOS_ADMIN_TOKEN), never "
        "from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"platos-tui {__version__}")
    parser.add_argument("--profile", help="profile name from config.toml (default: default_profile)")
    parser.add_argument("--url", help="API URL, overriding the profile and PLATOS_API_URL")
    parser.add_argument("--refresh", type=float, metavar="SECONDS", help="refresh interval")
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="refuse every mutation for the whole session: a hard lock that :write cannot lift (a profile's "
        "read_only = true is a default that :write can lift for a time box)",
    )
    parser.add_argument("--demo", action="store_true", help="run against a built-in simulator on loopback")
    parser.add_argument("--scenario", choices=SCENARIOS, default="incident", help="simulator scenario for --demo")
    parser.add_argument(
        "--consistent",
        action="store_true",
        help="for --demo: a run list without replication lag or short pages (the real server has both)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = sub.add_parser("sim", help="serve the simulated platos engine over HTTP")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8030)
    sim.add_argument("--scenario", dest="sim_scenario", choices=SCENARIOS, default="incident")
    sim.add_argument("--secret-key", help="the simulator's own fake secret key to accept")
    sim.add_argument("--admin-token", help="the simulator's own fake admin PAT to accept")
    sim.add_argument("--speed", type=float, default=1.0, help="virtual seconds per real second")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--queues", type=int, help="generate this many queues (benchmarks)")
    sim.add_argument("--runs", type=int, help="generate this many runs (benchmarks)")
    sim.add_argument("--faults", help="e.g. latency=2s,error-rate=0.2")
    sim.add_argument("--public", action="store_true", help="allow binding a non-loopback host")
    sim.add_argument(
        "--clock-skew",
        type=_signed_duration,
        default=0.0,
        metavar="DURATION",
        help="the server's clock ahead of this machine's, e.g. -20m (behind), 90s, 1h",
    )
    sim.add_argument(
        "--replica-lag", type=float, default=0.0, metavar="SECONDS", help="run-list replication lag (short pages)"
    )

    diagnose = sub.add_parser("diagnose", help="say why a run is stuck (exit 0 not stuck, 1 findings, 2 error)")
    diagnose.add_argument("run_id")
    diagnose.add_argument("--json", action="store_true")
    triage = sub.add_parser("triage", help="diagnose the whole environment (exit 0 none, 1 findings, 2 error)")
    triage.add_argument("--json", action="store_true")
    triage.add_argument(
        "--all-profiles",
        action="store_true",
        help="triage every profile of the config file at once, each as written, with its own request budget",
    )
    triage.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="with --all-profiles: how long one profile may take before it is reported as not answering",
    )

    profile = sub.add_parser("profile", help="list, show, add or remove profiles")
    psub = profile.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    psub.add_parser("list", help="list profiles")
    show = psub.add_parser("show", help="show a profile (never its secrets)")
    show.add_argument("name")
    add = psub.add_parser("add", help="add or replace a profile")
    add.add_argument("name")
    add.add_argument("--url", dest="profile_url", required=True)
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--secret-key-env", metavar="VAR", help="env var holding the secret key")
    secret.add_argument("--secret-key-command", metavar="CMD", help="command printing the secret key")
    admin = add.add_mutually_exclusive_group()
    admin.add_argument("--admin-token-env", metavar="VAR", help="env var holding the admin PAT")
    admin.add_argument("--admin-token-command", metavar="CMD", help="command printing the admin PAT")
    add.add_argument("--env-type", choices=("development", "staging", "production", "preview"))
    add.add_argument("--environment", metavar="LABEL", help="a label such as prod-eu")
    add.add_argument("--read-only", dest="profile_read_only", action=argparse.BooleanOptionalAction, default=None)
    add.add_argument("--default", action="store_true", help="make it the default profile")
    remove = psub.add_parser("remove", help="remove a profile")
    remove.add_argument("name")

    audit = sub.add_parser("audit", help="print the audit log of actions")
    audit.add_argument("--json", action="store_true")
    audit.add_argument("--since", help="e.g. 1h, 30m, 2d")
    _add_journal_commands(sub)
    return parser


def _add_journal_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`report` (the incident journal as a postmortem) and `doctor` (will the console work here?)."""
    report = sub.add_parser("report", help="the incident journal as a postmortem timeline (Markdown or JSON)")
    report.add_argument("--since", help="e.g. 2h, 30m, 1d or an ISO time (default 24h)")
    report.add_argument("--profile", dest="report_profile", metavar="NAME", help="only this profile (default: all)")
    report.add_argument("--format", dest="report_format", choices=("md", "json"), default="md")
    sub.add_parser(
        "doctor",
        help="check the profile, server, key, admin token, clock, state directory and terminal "
        "(exit 0 the console will work, 1 not, 2 internal error)",
    )


def make_client(settings: Settings) -> EngineClient:
    """The one place a client is built from settings."""
    from tui.api.client import EngineClient, Timeouts
    from tui.api.guard import WriteGuard

    return EngineClient(
        settings.url,
        settings.secret_key,
        admin_token=settings.admin_token,
        guard=WriteGuard(read_only=settings.read_only),
        budget_per_second=settings.budget_per_second,
        timeouts=Timeouts(settings.connect_timeout, settings.read_timeout),
        allow_insecure_http=settings.allow_insecure_http,
        max_response_mb=settings.max_response_mb,
        branch=settings.branch,
    )


DEMO_REPLICA_LAG = 5.0
"""The demo's run list trails by this much, as the real one does (API.md §4.2), unless --consistent."""


def start_demo(scenario: str, *, read_only: bool = False, consistent: bool = False) -> tuple[Settings, RunningSim]:
    """Start the simulator in-process on a free loopback port and describe it as a profile."""
    from tui.sim.server import SimOptions, start_in_background

    lag = 0.0 if consistent else DEMO_REPLICA_LAG
    sim = start_in_background(SimOptions(port=0, scenario=scenario, replica_lag=lag))
    # The scale plugin reads the simulator's admin token from the environment, never from argv.
    os.environ["PLATOS_SIM_TOKEN"] = sim.admin_token
    scale = f"{shlex.quote(sys.executable)} -m tui.sim.control --url {sim.url} scale-workers {{replicas}}"
    settings = Settings(
        profile="demo",
        url=sim.url,
        secret_key=sim.secret_key,
        admin_token=sim.admin_token,
        env_type=environment_type_from_key(sim.secret_key) or EnvironmentType.DEVELOPMENT,
        env_label=f"demo: {scenario}",
        read_only=read_only,
        demo=True,
        budget_per_second=10.0,
        plugins=(
            Plugin(
                "scale-workers",
                scale,
                "Scale the simulator's worker pool (replicas)",
                env=(("PLATOS_SIM_TOKEN", sim.admin_token),),
            ),
        ),
    )
    return settings, sim


def _resolve(args: argparse.Namespace) -> tuple[Settings | None, RunningSim | None]:
    if args.demo:
        return start_demo(args.scenario, read_only=args.read_only, consistent=args.consistent)
    overrides = Overrides(profile=args.profile, url=args.url, refresh=args.refresh, read_only=args.read_only)
    return load_settings(overrides, warn=_warn), None


def _run_tui(args: argparse.Namespace) -> int:
    settings, sim = _resolve(args)
    sims = [sim] if sim else []

    def demo() -> Settings:
        demo_settings, demo_sim = start_demo(args.scenario, read_only=args.read_only, consistent=args.consistent)
        sims.append(demo_sim)
        return demo_settings

    def load_named(name: str) -> Settings:
        # A switch gives the profile as written: PLATOS_API_URL and friends do not follow it.
        return load_profile(name, read_only=args.read_only, warn=_warn)

    from tui.app import PlatosApp

    app = PlatosApp(
        settings,
        make_client=make_client,
        load_profile=load_named,
        list_profiles=lambda: profile_names(warn=_warn),
        start_demo=demo,
        read_only_locked=args.read_only,
        journal=_journal(),
        freeze_start_up=True,
    )
    debug = bool(os.environ.get(DEBUG_ENV))
    if not debug:
        from rich.console import Console

        # Textual prints its traceback here on the way out; the operator gets one line from us instead.
        app.error_console = Console(file=io.StringIO(), stderr=False)
    try:
        app.run()
    finally:
        for running in sims:
            running.stop()
    if app.failure is not None:
        return _fail(f"internal error: {_describe(app.failure)}") if debug else _internal(app.failure)
    return 0


def _run_async(args: argparse.Namespace, command: Callable[[EngineClient, Settings], Awaitable[int]]) -> int:
    settings, sim = _resolve(args)
    if settings is None:
        return _fail("no profile configured; run `platos-tui profile add` or set PLATOS_API_URL and PLATOS_SECRET_KEY")

    async def go() -> int:
        client = make_client(settings)
        try:
            # The user asked for this answer and is waiting: its requests skip the polling budget.
            async with client.burst():
                return await command(client, settings)
        finally:
            await client.aclose()

    try:
        return asyncio.run(go())
    finally:
        if sim is not None:
            sim.stop()


def _sim(args: argparse.Namespace) -> int:
    if not args.public and not _is_loopback(args.host):
        return _fail(f"--host {args.host} is not a loopback address; add --public to expose the simulator")
    from tui.sim.server import SimOptions, serve

    options = SimOptions(
        host=args.host,
        port=args.port,
        scenario=args.sim_scenario,
        secret_key=args.secret_key,
        admin_token=args.admin_token,
        speed=args.speed,
        seed=args.seed,
        queues=args.queues,
        runs=args.runs,
        faults=args.faults,
        public=args.public,
        replica_lag=max(0.0, args.replica_lag),
        clock_skew=args.clock_skew,
    )
    try:
        serve(options)
    except OSError as error:
        return _fail(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _profile(args: argparse.Namespace, out: TextIO) -> int:
    from tui import profiles

    if args.profile_command == "list":
        return profiles.list_profiles(out, _warn)
    if args.profile_command == "show":
        return profiles.show_profile(args.name, out, _warn, os.environ)
    if args.profile_command == "remove":
        return profiles.remove_profile(args.name, out, _warn)
    fields = {
        "url": args.profile_url,
        "secret_key_env": args.secret_key_env,
        "secret_key_command": args.secret_key_command,
        "admin_token_env": args.admin_token_env,
        "admin_token_command": args.admin_token_command,
        "env_type": args.env_type,
        "environment": args.environment,
        "read_only": args.profile_read_only,
    }
    return profiles.add_profile(args.name, fields, args.default, out, _warn)


def dispatch(args: argparse.Namespace, out: TextIO) -> int:
    if args.command is None:
        return _run_tui(args)
    if args.command == "sim":
        return _sim(args)
    if args.command == "profile":
        return _profile(args, out)
    if args.command == "audit":
        from tui.actions.audit import audit_command

        return audit_command(args.json, args.since, out)
    if args.command == "triage" and args.all_profiles:
        return _triage_all(args, out)
    if args.command in ("report", "doctor"):
        return _journal_command(args, out)
    from tui.diagnosis.report import diagnose_command, triage_command

    if args.command == "diagnose":
        from tui.api.errors import NotFound
        from tui.model.text import clean

        async def diagnose(client: EngineClient, settings: Settings) -> int:
            try:
                return await diagnose_command(client, settings, args.run_id, args.json, out)
            except NotFound:  # only the run lookup's errors propagate: the rest become notes
                return _fail(f"no run `{clean(args.run_id, 80)}` in this environment")

        return _run_async(args, diagnose)
    return _run_async(args, lambda c, s: triage_command(c, s, args.json, out))


def _triage_all(args: argparse.Namespace, out: TextIO) -> int:
    """`triage --all-profiles`: every profile of the config file, concurrently, each as written."""
    if args.profile or args.url or args.demo:
        return _fail("--all-profiles triages every profile of the config file: drop --profile, --url and --demo")
    if not args.timeout > 0:
        return _fail("--timeout must be a positive number of seconds")
    names = profile_names(warn=_warn)
    if not names:
        return _fail("no profiles configured; add them with `platos-tui profile add`")
    from functools import partial

    from tui.diagnosis.fleet import triage_all_command

    loaders = [(name, partial(load_profile, name, read_only=args.read_only, warn=_warn)) for name in names]
    return asyncio.run(triage_all_command(loaders, make_client, args.json, out, sys.stderr, timeout=args.timeout))


def _journal() -> Journal:
    """The console's incident journal; it opens its file on the first write, off the UI thread."""
    from tui.journal import Journal

    return Journal()


def _journal_command(args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "report":
        from tui.journal.report import report_command

        return report_command(args.since, args.report_profile or args.profile, args.report_format, out)
    from tui.doctor import doctor_command

    overrides = Overrides(profile=args.profile, url=args.url, refresh=args.refresh, read_only=args.read_only)
    return doctor_command(overrides, out, make_client=make_client)


def _missing_part(exc: ImportError) -> str | None:
    """The name of one of our own modules that is missing (still being written), else None."""
    name = exc.name or ""
    return name if name == "tui" or name.startswith("tui.") else None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `platos-tui` console script."""
    args = build_parser().parse_args(argv)
    expected: tuple[type[Exception], ...] = (ConfigError,)
    try:
        from tui.api.errors import ApiError

        expected = (ConfigError, ApiError)
    except ImportError as exc:  # the client layer is missing: config and profile commands still work
        if _missing_part(exc) is None:
            raise
    try:
        return dispatch(args, sys.stdout)
    except expected as exc:
        return _fail(str(exc))
    except ImportError as exc:
        missing = _missing_part(exc)
        if missing is None:
            return _internal(exc)
        return _fail(f"this command is not available yet ({missing} is missing from this build)")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`); point stdout at nothing so the exit flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _fail("output closed early (broken pipe)")
    except Exception as exc:
        return _internal(exc)


def _internal(exc: Exception) -> int:
    """Exit 1 means findings, so a bug must not look like one: one line, exit 2, never a traceback."""
    if os.environ.get(DEBUG_ENV):
        raise exc
    return _fail(f"internal error: {_describe(exc)} (set {DEBUG_ENV}=1 for the traceback)")


def _describe(exc: BaseException) -> str:
    """The exception's type and first line, cleaned of control characters and anything shaped like a key."""
    from tui.actions.scrub import Scrubber
    from tui.model.text import clean

    first = next(iter(str(exc).splitlines()), "")
    detail = Scrubber().text(clean(first, 200))
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
