"""Query strings of the list endpoints (API.md §4.2, §7.2): comma lists, epoch-ms times, capped page sizes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tui.model import RunStatus, TokenStatus


def epoch_ms(moment: datetime) -> str:
    """Epoch milliseconds; a naive datetime is taken as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return str(int(aware.timestamp() * 1000))


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def time_window(created_from: datetime | None, created_to: datetime | None, period: str | None) -> dict[str, str]:
    """The `filter[createdAt]` keys: a period, or from/to, never both (a period overrides them on the server)."""
    if period and (created_from is not None or created_to is not None):
        raise ValueError("give a period or a from/to range, not both: the server would ignore from/to")
    if period:
        return {"filter[createdAt][period]": period}
    return {
        "filter[createdAt][from]": epoch_ms(created_from) if created_from else "",
        "filter[createdAt][to]": epoch_ms(created_to) if created_to else "",
    }


def _compact(required: dict[str, str], optional: dict[str, str]) -> dict[str, str]:
    # The server keeps only the last of repeated keys, so every list is one comma-separated value.
    return {**required, **{key: value for key, value in optional.items() if value}}


def run_filters(
    *,
    statuses: Sequence[RunStatus | str],
    tasks: Sequence[str],
    stored_queue: str | None,
    tags: Sequence[str],
    created_from: datetime | None,
    created_to: datetime | None,
    period: str | None,
    bulk_action: str | None,
    page_size: int,
    after: str | None,
    versions: Sequence[str] = (),
    schedule: str | None = None,
    batch: str | None = None,
) -> dict[str, str]:
    """Parameters of GET /api/v1/runs; `stored_queue` is the stored name (`task/<id>` for task queues).

    Raises ValueError for a period together with from/to (see `time_window`).
    """
    return _compact(
        {"page[size]": str(clamp(page_size, 1, 100))},
        {
            "filter[status]": ",".join(RunStatus(s).value for s in statuses),
            "filter[taskIdentifier]": ",".join(tasks),
            "filter[queue]": stored_queue or "",
            "filter[tag]": ",".join(tags),
            "filter[version]": ",".join(versions),
            "filter[schedule]": schedule or "",
            "filter[batch]": batch or "",
            **time_window(created_from, created_to, period),
            "filter[bulkAction]": bulk_action or "",
            "page[after]": after or "",
        },
    )


def token_filters(
    *,
    statuses: Sequence[TokenStatus | str],
    tags: Sequence[str],
    idempotency_key: str | None,
    period: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    page_size: int,
    after: str | None,
) -> dict[str, str]:
    """Parameters of GET /api/v1/waitpoints/tokens (no default time window on the server)."""
    return _compact(
        {"page[size]": str(clamp(page_size, 1, 100))},
        {
            "filter[status]": ",".join(TokenStatus(s).value for s in statuses),
            "filter[tags]": ",".join(tags),
            "filter[idempotencyKey]": idempotency_key or "",
            **time_window(created_from, created_to, period),
            "page[after]": after or "",
        },
    )
