"""Helpers for the deployment-file tests: where the files are, how to build the
kustomizations, and reading the render node's grace out of each supervisor's file."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
KUSTOMIZATIONS = (KUBERNETES / "base", KUBERNETES / "overlays" / "gpu")
# A supervisor must wait this much longer than the node's grace before it kills: the hard
# stop that follows the grace (node.pipeline.HALT_GRACE) and the hand-back requests.
STOP_MARGIN = 10


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomize_binary() -> list[str] | None:
    """argv that builds a kustomization offline: kustomize itself or kubectl's built-in one."""
    if found := shutil.which("kustomize"):
        return [found, "build"]
    if found := shutil.which("kubectl"):
        return [found, "kustomize"]
    return None


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    argv = kustomize_binary()
    assert argv is not None
    done = subprocess.run([*argv, str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def kustomization_files(folder: Path) -> list[Path]:
    """Every file a kustomization names (resources, patches, generator inputs), bases too."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    files: list[Path] = []
    for entry in kustomization.get("resources", []):
        target = (folder / entry).resolve()
        files += kustomization_files(target) if target.is_dir() else [target]
    files += [(folder / patch["path"]).resolve() for patch in kustomization.get("patches", [])
              if "path" in patch]
    for generator in kustomization.get("secretGenerator", []):
        files += [(folder / name).resolve() for name in generator.get("envs", [])]
    return files


def flag(args: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` in an argv."""
    for number, arg in enumerate(args):
        if arg == name and number + 1 < len(args):
            return args[number + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def unit_settings(path: Path) -> dict[str, str]:
    """A systemd unit's Key=Value lines (the last one wins), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return dict(re.findall(r"^(\w+)=(.*)$", text, flags=re.MULTILINE))


def generated_secrets(folder: Path) -> list[dict[str, Any]]:
    """The Secrets a kustomization's secretGenerator makes from env files, as kustomize
    would (for a machine without kustomize)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    secrets = []
    for generator in kustomization.get("secretGenerator", []):
        data = {}
        for name in generator.get("envs", []):
            for line in (folder / name).read_text().splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    key, _, value = line.partition("=")
                    data[key.strip()] = base64.b64encode(value.encode()).decode()
        secrets.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": generator["name"]}, "data": data})
    return secrets
