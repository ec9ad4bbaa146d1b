"""The crawler (its fetcher, with httpx, and then trafilatura) loads only once a story link shows up."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import time
from pathlib import Path
from storyreel.ingest import Ingestor
from storyreel.project import Project
project = Project.open(Path(sys.argv[1]))
ingestor = Ingestor(project)
ingestor.run_pass()
before = "storyreel.crawl.fetch" in sys.modules
link = project.layout.raw / "story" / "fantasy" / "dragon" / "link" / "a.txt"
link.parent.mkdir(parents=True)
link.write_text("https://example.invalid/story\\n")
for _ in range(50):  # a file is taken once it is seen unchanged
    ingestor.run_pass()
    if ingestor.links_seen:
        break
    time.sleep(0.05)
print(before, "storyreel.crawl.fetch" in sys.modules)
ingestor.close()
"""


def test_the_crawler_is_imported_only_for_a_story_link(project):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(project.layout.root)], capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False", "True"], done.stderr[-2000:]
