"""Which grants a render node works on, and which names it writes downloads under.

The coordinator names each input file of a task it grants; the node writes it as
`<work dir>/<task id>-a<attempt>/inputs/<name>` (`<name>.part` while it arrives). Only
a plain name stays inside that folder, and only a task id and an attempt number make
a plain scratch folder name, so anything else refuses the grant: a compromised or
broken coordinator cannot make a node write outside its work folder.
"""

from __future__ import annotations

from typing import Any

from storyreel.layout import TASK_ID_RE
from storyreel.protocol import TaskFile, TaskGrant

# Common filesystems stop at 255 bytes per name, and a download arrives as
# `<name>.part` (client.download) first: a name may use what that suffix leaves.
PART_SUFFIX = ".part"
MAX_NAME_BYTES = 255 - len(PART_SUFFIX)


def name_problem(name: Any) -> str | None:
    """Why `name` is not a plain file name a download may be written under, or None."""
    if not isinstance(name, str):
        return "not a string"
    if not name:
        return "empty"
    if "/" in name or "\\" in name:
        return "it holds a path separator"
    if "\0" in name:
        return "it holds a NUL byte"
    if ".." in name:
        return "it holds '..'"
    if name[0] in ".-":
        return f"it starts with {name[0]!r}"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid UTF-8"
    if size > MAX_NAME_BYTES:
        return f"it is {size} bytes long, over {MAX_NAME_BYTES}"
    return None


def lease_problem(grant: TaskGrant) -> str | None:
    """Why a grant's task id or attempt cannot name a scratch folder (or a request), or None."""
    task_id, attempt = grant.task_id, grant.attempt
    if not isinstance(task_id, str) or not TASK_ID_RE.fullmatch(task_id):
        return f"the task id {task_id!r} is not a task id"
    if type(attempt) is not int or attempt < 1:
        return f"the attempt {attempt!r} of task {task_id} is not a positive whole number"
    return None


def files_problem(files: list[TaskFile]) -> str | None:
    """Why a grant's input files cannot be downloaded safely, or None."""
    for entry in files:
        name = entry.name
        if problem := name_problem(name):
            return f"the coordinator named an input file {name!r}, which is not a plain file name ({problem})"
    return None
