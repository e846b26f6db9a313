"""Guarded recoveries: confirmation models, read-only aware execution, audit log, post-action verification."""

from tui.actions.audit import (
    AuditEntry,
    AuditLog,
    AuditUnavailable,
    audit_command,
    default_audit_path,
    entry_line,
    read_entries,
)
from tui.actions.confirm import (
    Confirmation,
    Environment,
    confirm_abort_bulk,
    confirm_cancel_matching,
    confirm_cancel_run,
    confirm_cancel_runs,
    confirm_complete_token,
    confirm_override,
    confirm_pause,
    confirm_plugin,
    confirm_repair,
    confirm_replay,
    confirm_reset,
    confirm_rollback,
)
from tui.actions.inputs import BodyCheck, RunFilter, check_limit, check_token_body, parse_write_minutes
from tui.actions.plugins import PluginError, build_argv, plugin_parameters
from tui.actions.results import ActionResult, Outcome, RequestSummary, Verification
from tui.actions.rollback import RollbackPlan, RollbackRefused, dry_run_lines
from tui.actions.runner import ActionRunner
from tui.actions.verify import Verifier, VerifyOptions

__all__ = [
    "ActionResult",
    "ActionRunner",
    "AuditEntry",
    "AuditLog",
    "AuditUnavailable",
    "BodyCheck",
    "Confirmation",
    "Environment",
    "Outcome",
    "PluginError",
    "RequestSummary",
    "RollbackPlan",
    "RollbackRefused",
    "RunFilter",
    "Verification",
    "Verifier",
    "VerifyOptions",
    "audit_command",
    "build_argv",
    "check_limit",
    "check_token_body",
    "confirm_abort_bulk",
    "confirm_cancel_matching",
    "confirm_cancel_run",
    "confirm_cancel_runs",
    "confirm_complete_token",
    "confirm_override",
    "confirm_pause",
    "confirm_plugin",
    "confirm_repair",
    "confirm_replay",
    "confirm_reset",
    "confirm_rollback",
    "default_audit_path",
    "dry_run_lines",
    "entry_line",
    "parse_write_minutes",
    "plugin_parameters",
    "read_entries",
]
