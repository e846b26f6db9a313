"""FastTable on its own: reconcile by key, cached rendering, filter, narrow layouts, literal text."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

from tests.app.screen_text import screen_lines
from tui.widgets.table import Cell, Column, FastTable, Row, fit
from tui.widgets.table_model import EIGHTHS, THUMB, THUMB_BELOW, TRACK, TRACK_BELOW, scrollbar_cells

pytestmark = pytest.mark.every_frame  # which rows a frame renders again

COLUMNS = (
    Column("id", "Id", 8),
    Column("name", "Name", 10, flex=1),
    Column("detail", "Detail", 20, priority=3),
    Column("extra", "Extra", 12, priority=5),
)


def rows(count: int, *, suffix: str = "") -> list[Row]:
    return [Row(f"k{i}", (f"id{i}", f"name{i}{suffix}", f"detail {i}", "x")) for i in range(count)]


class TableApp(App[None]):
    def __init__(self, table: FastTable) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table


async def test_cursor_and_screen_line_follow_the_row_key_when_rows_arrive_above() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(rows(100))
        await pilot.pause()
        assert table.move_to("k50")
        await pilot.pause()
        line_before = table.cursor_index - round(table.scroll_y)
        table.set_rows([Row(f"new{i}", (f"n{i}", "new", "", "")) for i in range(5)] + rows(100))
        await pilot.pause()
        assert table.cursor_key == "k50" and table.cursor_index == 55
        assert table.cursor_index - round(table.scroll_y) == line_before


async def test_known_changes_in_unchanged_order_are_applied_and_only_they_render_again() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        data = rows(1000)
        table.set_rows(data, None, [row.key for row in data])
        await pilot.pause()
        table.render_count = 0
        changed = list(data)
        changed[3] = Row("k3", ("id3", "CHANGED", "detail 3", "x"))
        table.set_rows(changed, {"k3": changed[3]}, [row.key for row in changed])
        await pilot.pause()
        assert table.row("k3") is changed[3] and table.render_count == 1
        assert "CHANGED" in "\n".join(screen_lines(pilot.app))
        table.render_count = 0
        table.set_rows(changed, {}, [row.key for row in changed])  # nothing changed, and the caller knows it
        await pilot.pause()
        assert table.render_count == 0


async def test_cursor_stays_in_place_when_its_row_goes_away() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(rows(10))
        table.move_to("k3")
        table.set_rows([row for row in rows(10) if row.key != "k3"])
        await pilot.pause()
        assert table.cursor_index == 3 and table.cursor_key == "k4"


async def test_only_changed_rows_render_again() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        data = rows(1000)
        table.set_rows(data)
        await pilot.pause()
        table.move_to("k900")  # park the cursor off screen, so the visible rows all come from the cache
        table.move_to("k0")
        await pilot.pause()
        table.render_count = 0
        changed = list(data)
        changed[2] = Row("k2", ("id2", "CHANGED", "detail 2", "x"))
        table.set_rows(changed)
        await pilot.pause()
        assert table.render_count == 1
        assert "CHANGED" in "\n".join(screen_lines(pilot.app))
        table.render_count = 0
        table.set_rows(list(changed))  # same rows, new list: nothing to render
        await pilot.pause()
        assert table.render_count == 0


async def test_only_visible_rows_are_rendered() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(rows(10_000))
        await pilot.pause()
        assert table.render_count <= 12


async def test_filter_is_a_substring_and_bang_inverts() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(rows(20))
        table.set_filter("NAME1")
        assert list(table.keys) == ["k1"] + [f"k{i}" for i in range(10, 20)]
        table.set_filter("!name1")
        assert list(table.keys) == [f"k{i}" for i in range(10) if i != 1]
        table.set_filter("")
        assert table.row_count == 20
        await pilot.pause()


async def test_low_priority_columns_drop_when_narrow() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(40, 12)) as pilot:
        table.set_rows(rows(3))
        await pilot.pause()
        assert table.visible_columns == ["id", "name"]
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(120, 12)) as pilot:
        table.set_rows(rows(3))
        await pilot.pause()
        assert table.visible_columns == ["id", "name", "detail", "extra"]


async def test_cells_are_literal_text_never_markup_or_escapes() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 8)) as pilot:
        table.set_rows([Row("k", ("[b]", "[red]x[/]", Cell("\x1b[2J\x07bell", "error"), "日本語"))])
        await pilot.pause()
        text = "\n".join(screen_lines(pilot.app))
        assert "[red]x[/]" in text and "␛[2J␇bell" in text
        assert "\x1b" not in text and "\x07" not in text


async def test_enter_posts_selected_and_marks_toggle() -> None:
    selected: list[str] = []

    class Host(TableApp):
        def on_fast_table_selected(self, event: FastTable.Selected) -> None:
            selected.append(event.key)

    table = FastTable(COLUMNS, show_marks=True)
    async with Host(table).run_test(size=(80, 8)) as pilot:
        table.set_rows(rows(5))
        table.focus()
        await pilot.press("j", "j", "enter")
        assert selected == ["k2"]
        table.toggle_mark("k2")
        await pilot.pause()
        assert "●" in "\n".join(screen_lines(pilot.app))
        assert table.marked == {"k2"}


def test_fit_pads_cuts_and_keeps_both_ends_of_ids() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abc", 5, "right") == "  abc"
    assert fit("abcdefgh", 5) == "abcd…"
    assert fit("run_cmeo2x0k9a000208l4h2v1c3d7", 15, middle=True) == "run_cmeo2x…c3d7"
    assert fit("日本語日本語", 5) == "日本…"


async def test_filtered_rows_repaint_when_a_hidden_row_arrives_in_the_same_update() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(rows(5))
        table.set_filter("name1")
        await pilot.pause()
        assert "name1 " in "\n".join(screen_lines(pilot.app)) + " "
        # k1 changes while a row the filter hides arrives: the visible keys stay the same.
        table.set_rows([*rows(5, suffix="-changed"), Row("k9", ("id9", "other", "", ""))])
        await pilot.pause()
        assert "name1-changed" in "\n".join(screen_lines(pilot.app))


def aged_table(now: list[float]) -> tuple[FastTable, list[Row]]:
    """A table on the clock `now[0]` (1000 at first) and 50 rows with a live age each, k0 1 s old, k49 50 s."""
    table = FastTable(COLUMNS)
    table.clock = lambda: now[0]
    return table, [Row(f"k{i}", (f"id{i}", "name", Cell("1 s", since=999.0 - i), "")) for i in range(50)]


def watch_repaints(table: FastTable) -> list[Region]:
    """Every region the table asks to repaint from now on."""
    asked: list[Region] = []
    original = table.refresh

    def refresh(*regions: Region, **kwargs: bool) -> FastTable:
        asked.extend(regions)
        return original(*regions, **kwargs)

    table.refresh = refresh  # type: ignore[method-assign,assignment]
    return asked


async def test_a_live_age_ticks_by_the_clock_and_repaints_only_its_line_when_it_reads_differently() -> None:
    now = [1000.0]
    table = FastTable(COLUMNS)
    table.clock = lambda: now[0]
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(
            [
                Row("young", ("y", "young", Cell("30 s", "error", since=970.0), "")),
                Row("old", ("o", "old", Cell("16 m", since=40.0), "")),
            ]
        )
        await pilot.pause()
        assert table.texts("young") == ("y", "young", "30 s", "")
        asked = watch_repaints(table)
        now[0] += 1
        table.refresh_live()
        assert [region.y for region in asked] == [1]  # the young row's line: the old one still reads 16 m
        assert all(region.height == 1 and region.width < table.size.width // 2 for region in asked)  # its cell
        await pilot.pause()
        young = next(line for line in screen_lines(pilot.app) if "young" in line)
        assert "31 s" in young
        assert table.texts("old") == ("o", "old", "16 m", "")
        now[0] += 60
        asked.clear()
        table.refresh_live()
        assert [region.y for region in asked] == [1, 2]
        assert all(region.height == 1 and region.width < table.size.width // 2 for region in asked)


@pytest.mark.parametrize(("height", "rows"), [(10, 11), (10, 15), (37, 10_000), (5, 7), (24, 300)])
def test_the_scrollbar_thumb_is_the_views_share_of_the_rows_and_moves_down_with_it(height: int, rows: int) -> None:
    """In eighths of a line: as long as the view's share of the rows (a line at least), at the top at the first row
    and at the bottom at the last, never moving up as the view moves down, and drawn as one unbroken piece."""

    def eighths(top: int) -> list[int]:
        covered = []
        for glyph, kind in scrollbar_cells(height, rows, top):
            part = EIGHTHS.index(glyph) + 1 if glyph in EIGHTHS else 0
            covered.append({TRACK: 0, THUMB: 8, THUMB_BELOW: part, TRACK_BELOW: 8 - part}[kind])
        return covered

    assert scrollbar_cells(height, height, 0) == []
    tops = range(rows - height + 1)
    starts = []
    for top in tops:
        covered = eighths(top)
        assert len(covered) == height
        assert sum(covered) == max(8, round(8 * height * height / rows))
        inside = [y for y, part in enumerate(covered) if part]
        assert inside == list(range(inside[0], inside[-1] + 1))  # unbroken
        assert all(part == 8 for part in covered[inside[0] + 1 : inside[-1]])
        starts.append(inside[0] * 8 + 8 - covered[inside[0]])
    assert starts[0] == 0 and starts == sorted(starts)
    last = eighths(tops[-1])
    assert last[-1] == 8  # the thumb ends on the last line


def thumb_lines(table: FastTable) -> list[int]:
    """The lines whose last cell is not the scrollbar's track (the track is most of a long table's scrollbar)."""
    last = [list(table.render_line(y))[-1] for y in range(table.size.height)]
    track = max(last, key=last.count)
    return [y for y, cell in enumerate(last) if cell != track]


async def test_the_table_draws_its_scrollbar_which_follows_the_view_and_the_mouse() -> None:
    """The scrollbar is the last cell of each line, so a scroll repaints the table's lines and nothing beside
    them. It follows the view, a press on its track moves the view there (not the cursor), and the wheel scrolls."""
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(rows(10))
        await pilot.pause()
        assert table.allow_vertical_scroll is False  # the rows fit: no scrollbar
        narrow = [strip.cell_length for strip in map(table.render_line, range(table.size.height))]
        table.set_rows(rows(200))
        await pilot.pause()
        top = thumb_lines(table)
        assert top and top[0] == 0 and table.allow_vertical_scroll
        assert [strip.cell_length for strip in map(table.render_line, range(table.size.height))] == narrow
        table.action_last()
        await pilot.pause()
        bottom = thumb_lines(table)
        assert bottom and bottom[-1] == table.size.height - 1 and min(bottom) > max(top)
        table.action_first()
        await pilot.pause()
        assert thumb_lines(table) == top
        # A press low on the track moves the view down there; the cursor stays on its row.
        await pilot.click(table, offset=(table.size.width - 1, table.size.height - 1))
        await pilot.pause()
        assert table.scroll_y == table.max_scroll_y and table.cursor_key == "k0"
        await pilot.click(table, offset=(table.size.width - 1, 0))
        await pilot.pause()
        assert table.scroll_y == 0 and table.cursor_key == "k0"
        # Pressed on the bar and dragged halfway down, then on: the view follows the mouse until it is let go.
        bar = table.size.width - 1
        await pilot.mouse_down(table, offset=(bar, 0))
        await pilot.hover(table, offset=(bar, (table.size.height - 1) // 2))
        await pilot.pause()
        assert 0 < table.scroll_y < table.max_scroll_y
        await pilot.hover(table, offset=(bar, table.size.height - 1))
        await pilot.mouse_up(table, offset=(bar, table.size.height - 1))
        await pilot.pause()
        assert table.scroll_y == table.max_scroll_y and table.cursor_key == "k0"
        await pilot.hover(table, offset=(bar, 0))  # let go: moving the mouse no longer scrolls
        await pilot.pause()
        assert table.scroll_y == table.max_scroll_y


async def test_the_columns_take_the_scrollbars_cell_back_when_the_rows_come_to_fit() -> None:
    """A filter that leaves few enough rows to fit takes the scrollbar away: its cell goes to the columns again (the
    flexible one widens), and comes back to the scrollbar when the filter is cleared."""
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(rows(200))
        await pilot.pause()
        with_bar = screen_lines(pilot.app)[0].index("Detail")
        table.set_filter("name19")  # name19 and name190-name199: 11 rows, which fit under the header
        await pilot.pause()
        assert table.row_count == 11 and screen_lines(pilot.app)[0].index("Detail") == with_bar + 1
        table.set_filter("")
        await pilot.pause()
        assert screen_lines(pilot.app)[0].index("Detail") == with_bar
        # Rows arriving below the view bring the scrollbar: the lines in view are drawn again, a cell narrower.
        data = rows(200)
        table.set_rows(data[:10])
        await pilot.pause()
        assert screen_lines(pilot.app)[0].index("Detail") == with_bar + 1
        table.set_rows(data)  # the same rows in view: only the scrollbar makes them draw again
        await pilot.pause()
        assert screen_lines(pilot.app)[0].index("Detail") == with_bar


async def test_after_a_scroll_the_ages_are_drawn_with_the_whole_view_not_cell_by_cell() -> None:
    """A scrolled view is drawn whole on the next frame: repainting its ages one by one first is work thrown away."""
    now = [1000.0]
    table, aged = aged_table(now)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(aged)
        await pilot.pause()
        asked = watch_repaints(table)
        table.action_last()
        now[0] += 1
        table.refresh_live()
        assert [region for region in asked if region.width < table.size.width] == []  # no single cell
        await pilot.pause()
        assert "50 s" in "\n".join(screen_lines(pilot.app))  # k49, aged 49 s and one more, drawn by the frame
        now[0] += 1
        table.refresh_live()
        assert [region for region in asked if region.width < table.size.width]  # a view drawn since: cell by cell


async def test_a_refresh_repaints_no_line_past_the_table() -> None:
    """Under the header the table shows one row fewer than its height: a repaint of the line past the last row is
    another widget's line (the key footer's, redrawn with every refresh)."""
    now = [1000.0]
    table, aged = aged_table(now)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        table.set_rows(aged)
        await pilot.pause()
        asked = watch_repaints(table)
        now[0] += 1
        table.refresh_live()  # every age on screen reads a second more
        table.set_rows(aged[1:])  # every line shifts up
        assert asked and max(region.y + region.height - 1 for region in asked) == table.size.height - 1


async def test_rows_listed_or_dropped_off_screen_repaint_nothing_and_a_shift_repaints_its_lines() -> None:
    table = FastTable(COLUMNS)
    async with TableApp(table).run_test(size=(80, 12)) as pilot:
        data = rows(1000)
        table.set_rows(data)
        await pilot.pause()
        drawn: list[int] = []
        original = table.render_line

        def render_line(y: int) -> Strip:
            drawn.append(y)
            return original(y)

        table.render_line = render_line  # type: ignore[method-assign]
        # A run listed 500 rows down and another gone from the end: the view shows what it showed.
        table.set_rows([*data[:500], Row("new", ("n", "new", "", "")), *data[500:999]])
        await pilot.pause()
        assert drawn == []
        # The second row leaves: every line from there on shows another row, the header and first row do not.
        table.set_rows([data[0], *data[2:500]])
        await pilot.pause()
        assert sorted(set(drawn)) == list(range(2, 12))
        assert [line.split()[0] for line in screen_lines(pilot.app)[1:4]] == ["▸id0", "id2", "id3"]
