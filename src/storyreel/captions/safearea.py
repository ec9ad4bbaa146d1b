"""Where captions may go: the frame minus the margins the platforms cover with buttons.

Margins, as shares of the frame's width and height, chosen from the platforms' own
overlays:
- landscape (16:9, YouTube): the broadcast title-safe 5 % on every side, and 10 % at the
  bottom, where the player's progress bar and controls appear over the picture;
- portrait (9:16, Shorts, TikTok, Reels): 14 % at the top (tabs, search, LIVE), 26 % at
  the bottom (account name, description, music ticker, the Shorts/Reels action bar),
  16 % on the right (the like/comment/share column) and 8 % on the left.
Square frames use the landscape margins.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Margins:
    """Shares of the frame kept clear on each side."""

    left: float
    right: float
    top: float
    bottom: float


LANDSCAPE = Margins(left=0.05, right=0.05, top=0.05, bottom=0.10)
PORTRAIT = Margins(left=0.08, right=0.16, top=0.14, bottom=0.26)


@dataclass(frozen=True)
class SafeArea:
    """The rectangle captions stay inside, in pixels of a width × height frame."""

    width: int
    height: int
    left: int
    right: int  # x of the right edge
    top: int
    bottom: int  # y of the bottom edge

    @property
    def margin_left(self) -> int:
        return self.left

    @property
    def margin_right(self) -> int:
        return self.width - self.right

    @property
    def margin_top(self) -> int:
        return self.top

    @property
    def margin_bottom(self) -> int:
        return self.height - self.bottom


def safe_area(width: int, height: int) -> SafeArea:
    """The safe area of a width × height frame (portrait margins when taller than wide)."""
    m = PORTRAIT if height > width else LANDSCAPE
    return SafeArea(width, height, round(width * m.left), round(width * (1 - m.right)),
                    round(height * m.top), round(height * (1 - m.bottom)))
