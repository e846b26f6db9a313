"""A run's trace as a tree of spans: durations, start offsets, open spans with their age, token links."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from tui.config import Thresholds
from tui.model import WAIT_FOR_TOKEN, Span, SpanDetail, Trace
from tui.model.text import clean
from tui.widgets.format import duration
from tui.widgets.run_summary import HungSpan

TOGGLE = Style.from_meta({"toggle": True})
"""What makes a click on the expand icon toggle the node (the meta Textual's Tree reads on click)."""
_ENTITY_KEYS = ("entity", "entity.name", "entityName", "entity_name", "tool.entity", "gen_ai.tool.entity")
_TOOL_WORDS = ("tool", "entity")


def entity_name(properties: Mapping[str, Any] | None) -> str | None:
    """The entity backend a tool-call span talks to, from its public attributes."""
    if not properties:
        return None
    for key in _ENTITY_KEYS:
        value = properties.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def looks_like_tool_call(span: Span) -> bool:
    """Tool calls are named by the task code; the simulator and SDK both mention "tool" or an entity."""
    message = span.message.lower()
    return any(word in message for word in _TOOL_WORDS) or entity_name(span.properties) is not None


def token_id_for(span: Span, detail: SpanDetail | None) -> str | None:
    """The token a `wait.forToken()` span waits on: span detail first, legacy trace properties second."""
    if span.message != WAIT_FOR_TOKEN:
        return None
    if detail is not None and detail.waitpoint_id is not None:
        return detail.waitpoint_id
    value = (span.properties or {}).get("id")
    return value if isinstance(value, str) and value.startswith("waitpoint_") else None


def hang_threshold(span: Span, thresholds: Thresholds) -> float:
    """Seconds an open span may last before it looks hung: waits get the waitpoint threshold."""
    if span.message.startswith("wait."):
        return thresholds.waitpoint_seconds
    return thresholds.tool_call_seconds


def deepest_open_span(trace: Trace) -> Span | None:
    """The open span furthest from the root (latest start on ties): where a stuck run hangs."""
    best: tuple[int, datetime] | None = None
    found: Span | None = None
    for depth, span in trace.root.walk():
        if span.is_partial and (best is None or (depth, span.start_time) >= best):
            best, found = (depth, span.start_time), span
    return found


def hung_span(
    trace: Trace, details: Mapping[str, SpanDetail], now: datetime, thresholds: Thresholds
) -> HungSpan | None:
    """The deepest open span, with its age, flagged when older than the tool-call threshold."""
    span = deepest_open_span(trace)
    if span is None:
        return None
    detail = details.get(span.id)
    age = max(timedelta(0), now - span.start_time)
    return HungSpan(
        message=span.message,
        age=age,
        hung=age.total_seconds() > hang_threshold(span, thresholds),
        token_id=token_id_for(span, detail),
        entity=entity_name(detail.properties if detail else span.properties),
    )


@dataclass(frozen=True, slots=True)
class SpanRow:
    """What one tree line shows; all text is already cleaned."""

    span_id: str
    message: str
    tail: str
    flag: str
    state: str
    """done, open, hung, error or cancelled."""
    token_id: str | None = None
    entity: str | None = None

    @property
    def plain(self) -> str:
        return "  ".join(part for part in (self.message, self.flag, self.tail) if part)


def span_row(
    span: Span,
    root_start: datetime,
    detail: SpanDetail | None,
    now: datetime,
    hung_span_id: str | None,
    thresholds: Thresholds,
    *,
    executing: bool = True,
) -> SpanRow:
    """Build one line: message (+ entity, token), duration and start offset, and the open/hung/error flag.

    Only an EXECUTING run runs: the open spans of a queued or waiting run are waiting, never hung.
    """
    token = token_id_for(span, detail)
    entity = entity_name(detail.properties if detail else span.properties)
    message = clean(span.message, 80)
    if span.level != "TRACE":  # a log line inside the trace, not a span
        message = f"{clean(span.level, 8)} {message}"
    if entity:
        message += f"  entity {clean(entity, 40)}"
    if token:
        message += f"  token {clean(token, 60)}"
    offset = f"@+{duration(span.start_time - root_start)}"
    if span.is_partial:
        age = max(timedelta(0), now - span.start_time)
        flag = f"● {'running' if executing else 'waiting'} {duration(age)}"
        state = "open"
        if executing and span.id == hung_span_id:
            if age.total_seconds() > hang_threshold(span, thresholds):
                flag += "  ◀ HUNG HERE?"
                state = "hung"
            else:
                flag += "  ◀ deepest open"
        return SpanRow(span.id, message, offset, flag, state, token, entity)
    if span.level != "TRACE":  # a log record has a moment, not a duration
        return SpanRow(span.id, message, offset, "", "done", token, entity)
    tail = f"{duration(span.duration_ms / 1000)}  {offset}"
    if span.is_error:
        return SpanRow(span.id, message, tail, "✗ error", "error", token, entity)
    if span.is_cancelled:
        return SpanRow(span.id, message, tail, "⊘ cancelled", "cancelled", token, entity)
    return SpanRow(span.id, message, tail, "", "done", token, entity)


class TraceTree(Tree[SpanRow]):
    """Render-only span tree, reconciled by span id so the cursor and expansion survive refreshes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Inspect span", id="trace.inspect", tooltip="Attributes, input, logs"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trace-tree--muted",
        "trace-tree--open",
        "trace-tree--hung",
        "trace-tree--error",
    }
    DEFAULT_CSS = """
    TraceTree > .trace-tree--muted { color: $text-muted; }
    TraceTree > .trace-tree--open { color: $warning; }
    TraceTree > .trace-tree--hung { color: $warning; text-style: bold reverse; }
    TraceTree > .trace-tree--error { color: $error; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("trace: loading…"), id=id)
        self.auto_expand = False  # enter opens the span inspector; space (or a click on the icon) folds
        self._span_nodes: dict[str, TreeNode[SpanRow]] = {}
        self._root_span_id: str | None = None

    @property
    def selected_token_id(self) -> str | None:
        """The token of the span under the cursor, when it is a `wait.forToken()` with a known token."""
        node = self.cursor_node
        return None if node is None or node.data is None else node.data.token_id

    def row_for(self, span_id: str) -> SpanRow | None:
        node = self._span_nodes.get(span_id)
        return None if node is None else node.data

    def node_for(self, span_id: str) -> TreeNode[SpanRow] | None:
        return self._span_nodes.get(span_id)

    def move_to_span(self, span_id: str) -> None:
        """Put the cursor on a span now (lines are rebuilt first, so a just-added node has its line)."""
        node = self._span_nodes.get(span_id)
        if node is not None and self.last_line >= 0:
            self.move_cursor(node)

    def show_message(self, message: str) -> None:
        """A sentence instead of a trace (no trace yet); keeps nothing from an earlier trace."""
        self.clear()
        self._span_nodes.clear()
        self._root_span_id = None
        self.root.set_label(Text(clean(message)))
        self.root.data = None
        self.root.allow_expand = False

    def show_trace(
        self,
        trace: Trace,
        details: Mapping[str, SpanDetail],
        now: datetime,
        thresholds: Thresholds,
        *,
        executing: bool = True,
    ) -> None:
        """Reconcile the tree with `trace`: relabel known spans, add new ones, drop vanished ones."""
        if self._root_span_id != trace.root.id:
            self.clear()
            self._span_nodes = {trace.root.id: self.root}
            self._root_span_id = trace.root.id
            self.root.allow_expand = True
            self.root.expand()
        deepest = deepest_open_span(trace)
        hung_id = deepest.id if deepest is not None else None
        root_start = trace.root.start_time
        seen: set[str] = set()
        stack: list[tuple[TreeNode[SpanRow], Span]] = [(self.root, trace.root)]
        while stack:
            node, span = stack.pop()
            seen.add(span.id)
            row = span_row(span, root_start, details.get(span.id), now, hung_id, thresholds, executing=executing)
            self._update(node, row, bool(span.children))
            for child in span.children:
                child_node = self._span_nodes.get(child.id)
                if child_node is None or child_node.parent is not node:
                    if child_node is not None:
                        self._forget(child_node)
                    child_node = node.add(Text(""), expand=True, allow_expand=bool(child.children))
                    self._span_nodes[child.id] = child_node
                stack.append((child_node, child))
        for span_id in [key for key in self._span_nodes if key not in seen]:
            node_gone = self._span_nodes.get(span_id)
            if node_gone is not None:
                self._forget(node_gone)

    def _forget(self, node: TreeNode[SpanRow]) -> None:
        stale = [node]
        while stale:
            current = stale.pop()
            stale.extend(current.children)
            if current.data is not None:
                self._span_nodes.pop(current.data.span_id, None)
        if not node.is_root:
            node.remove()

    def _update(self, node: TreeNode[SpanRow], row: SpanRow, has_children: bool) -> None:
        if node.allow_expand != has_children and not node.is_root:
            node.allow_expand = has_children
        if node.data == row:
            return
        node.data = row
        node.set_label(Text(row.plain))

    def render_label(self, node: TreeNode[SpanRow], base_style: Style, style: Style) -> Text:
        row = node.data
        if row is None:
            label = node.label.copy() if isinstance(node.label, Text) else Text(str(node.label))
        else:
            label = Text()
            error = row.state == "error"
            label.append(row.message, self.get_component_rich_style("trace-tree--error") if error else "")
            if row.flag:
                flag_class = {"hung": "trace-tree--hung", "error": "trace-tree--error"}.get(
                    row.state, "trace-tree--open" if row.state == "open" else "trace-tree--muted"
                )
                label.append("  " + row.flag, self.get_component_rich_style(flag_class))
            if row.tail:
                label.append("  " + row.tail, self.get_component_rich_style("trace-tree--muted"))
        label.stylize(style)
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
            return Text.assemble((icon, base_style + TOGGLE), label)
        return label


def span_info_content(span: Span, detail: SpanDetail | None, root_start: datetime) -> Content:
    """One or two lines about the highlighted span: id, start offset, public attributes (literal, cut)."""
    properties = detail.properties if detail is not None else span.properties
    parts: list[str | tuple[str, str]] = [
        ("span ", "$text-muted"),
        clean(span.id, 40),
        ("  started ", "$text-muted"),
        f"@+{duration(span.start_time - root_start)}",
    ]
    if detail is not None and detail.entity_type:
        parts += [("  entity type ", "$text-muted"), clean(detail.entity_type, 40)]
    if properties:
        text = json.dumps(dict(properties), ensure_ascii=False, default=str, separators=(", ", ": "))
        parts += [("\nproperties ", "$text-muted"), clean(text, 300)]
    elif detail is None:
        parts.append(("  (attributes not fetched)", "$text-muted"))
    return Content.assemble(*parts)
