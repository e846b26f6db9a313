"""The whole suite: the headless test terminal redraws at most 20 times a second.

Textual redraws a screen up to 60 times a second (`TEXTUAL_FPS`); a headless test reads what is on the screen
when it asks (`pilot.pause` and `screen_text` render it then), so the frames in between are drawn for nobody.
Drawing a third of them saves about 15 % of the CPU time of a Pilot test (measured on the actions matrix).
`TEXTUAL_FPS` is read when Textual is imported, which the snapshot plugin does before this file, hence the
module constant.
"""

from __future__ import annotations

import textual.screen

TEST_FPS = 20
textual.screen.UPDATE_PERIOD = 1 / TEST_FPS  # type: ignore[misc]
