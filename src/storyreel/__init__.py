"""storyreel: a render farm for story videos.

Operators drop narration, background clips, music and story links into
``raw/``; storyreel validates and files them into ``scanned/``, assembles render
tasks in ``tasks/`` and renders finished videos into ``output/``.
"""

from __future__ import annotations

__version__ = "0.1.0"
