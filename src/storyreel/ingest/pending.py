"""What raw/ still holds that will soon be filed: files inside their stability window,
being checked, or story links being crawled, grouped by the category their place names.

The planner asks this before it builds a chapter's task, so a drop of a voice, clips
and music made together is planned once all of it is in scanned/, not when the first
few files happen to be there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Pending:
    """Files under raw/ not yet filed, by category (`raw/<kind>/<category>/…`)."""

    by_category: dict[str, tuple[str, ...]] = field(default_factory=dict)  # paths under raw/, sorted

    @classmethod
    def of(cls, raw: Path, paths: Iterable[Path]) -> Pending:
        """Group `paths` under `raw` by category; a path too shallow to name one is left out
        (its place alone gets it rejected, so it never reaches scanned/)."""
        found: dict[str, set[str]] = {}
        for path in paths:
            try:
                parts = path.relative_to(raw).parts
            except ValueError:
                continue
            if len(parts) >= 3:
                found.setdefault(parts[1], set()).add("/".join(parts))
        return cls({category: tuple(sorted(names)) for category, names in sorted(found.items())})

    def files(self, *categories: str) -> list[str]:
        """The pending files of these categories, as paths under raw/, sorted."""
        wanted = {c for c in categories if c}
        return sorted(name for category in wanted for name in self.by_category.get(category, ()))

    def __bool__(self) -> bool:
        return bool(self.by_category)


NOTHING_PENDING = Pending()
