"""deploy/kubernetes/: the kustomizations build, the core manifests match the Kubernetes
schemas (kubernetes-validate, offline), and the KEDA ScaledObject — a custom resource
those schemas do not cover — passes a structural check of its own."""

from __future__ import annotations

import copy
import functools
import re
from types import SimpleNamespace

import kubernetes_validate
import pytest
from deploykit import (
    KUSTOMIZATIONS,
    STOP_MARGIN,
    flag,
    generated_secrets,
    kustomization_files,
    kustomize_binary,
    kustomize_build,
    yaml_docs,
)

from storyreel.farmstate.model import FolderCounts
from storyreel.web.prometheus import _folders

# The oldest Kubernetes the manifests are meant for, and the newest the schemas know.
VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
KEDA_API = "keda.sh/v1alpha1"
# The ScaledObject fields this farm uses (KEDA 2.x); anything else is a typo here.
SCALED_OBJECT_SPEC = {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                      "cooldownPeriod", "advanced", "triggers", "idleReplicaCount", "fallback"}
PROMETHEUS_METADATA = {"serverAddress", "query", "threshold", "activationThreshold", "namespace",
                       "ignoreNullValues", "unsafeSsl"}


def built(folder) -> list[dict]:
    """The kustomization's resources (a fresh copy each time): built by kustomize when one
    is here, else read from the files it names (the overlay's patch then cannot be applied,
    so only the base)."""
    if kustomize_binary() is not None:
        return copy.deepcopy(_built(folder))
    if folder.name != "base":
        pytest.skip("no kustomize or kubectl here to apply the overlay's patch")
    return [doc for path in kustomization_files(folder) if path.suffix == ".yaml"
            for doc in yaml_docs(path)] + generated_secrets(folder)


@functools.cache
def _built(folder) -> list[dict]:
    return kustomize_build(folder)


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda f: f.name)
def test_every_file_a_kustomization_names_exists_and_parses(folder) -> None:
    files = kustomization_files(folder)
    assert files
    for path in files:
        assert path.is_file(), f"{folder.name}/kustomization.yaml names {path}, which is missing"
        if path.suffix == ".yaml":
            assert yaml_docs(path), path


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda f: f.name)
def test_core_manifests_match_the_kubernetes_schemas(folder) -> None:
    docs = [doc for doc in built(folder) if not doc["apiVersion"].startswith("keda.sh/")]
    assert {doc["kind"] for doc in docs} >= {"Namespace", "Secret", "Service", "StatefulSet", "Deployment"}
    for doc in docs:
        for version in VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                first = str(exc).splitlines()[0]
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} on {version}: {first}")


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    deployment = of_kind(built(KUSTOMIZATIONS[0]), "Deployment")[0]
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda f: f.name)
def test_the_scaled_object_scales_the_render_nodes_on_queued_tasks(folder) -> None:
    docs = built(folder)
    scaled = [doc for doc in docs if doc["apiVersion"] == KEDA_API and doc["kind"] == "ScaledObject"]
    assert len(scaled) == 1
    spec = scaled[0]["spec"]
    assert set(spec) <= SCALED_OBJECT_SPEC, set(spec) - SCALED_OBJECT_SPEC
    deployments = {doc["metadata"]["name"] for doc in of_kind(docs, "Deployment")}
    assert spec["scaleTargetRef"]["name"] in deployments
    assert spec["minReplicaCount"] == 0 and isinstance(spec["maxReplicaCount"], int)
    assert spec["maxReplicaCount"] >= 4
    assert all(isinstance(spec[key], int) and spec[key] > 0 for key in ("pollingInterval", "cooldownPeriod"))
    (trigger,) = spec["triggers"]
    metadata = trigger["metadata"]
    assert trigger["type"] == "prometheus" and set(metadata) <= PROMETHEUS_METADATA
    assert re.match(r"https?://[\w.-]+(:\d+)?$", metadata["serverAddress"])
    assert float(metadata["threshold"]) > 0 and isinstance(metadata["threshold"], str)
    assert float(metadata["activationThreshold"]) >= 0
    assert_query_names_a_metric_the_main_worker_serves(metadata["query"])


def assert_query_names_a_metric_the_main_worker_serves(query: str) -> None:
    selector = re.search(r'(\w+)\{folder="([\w/]+)"\}', query)
    assert selector, query
    name, folder = selector.groups()
    counts = FolderCounts.model_validate({field.alias or key: 0
                                          for key, field in FolderCounts.model_fields.items()})
    state = SimpleNamespace(queues=counts, invalid_reasons={}, failed_reasons={})
    families = {family.name: family for family in _folders(state)}
    assert name == "storyreel_folder_items" and name in families
    assert folder == "tasks" and folder in {s.labels["folder"] for s in families[name].samples}


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=lambda f: f.name)
def test_render_pods_are_given_longer_than_their_grace(folder) -> None:
    (deployment,) = of_kind(built(folder), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (render,) = pod["containers"]
    assert render["args"][0] == "render"
    grace = float(flag(render["args"], "--grace"))
    assert grace > 0
    assert pod["terminationGracePeriodSeconds"] >= grace + STOP_MARGIN
    assert flag(render["args"], "--exit-when-idle") is None  # a Deployment would restart it


def test_the_main_worker_keeps_its_root_on_a_volume_and_has_one_replica() -> None:
    docs = built(KUSTOMIZATIONS[0])
    (statefulset,) = of_kind(docs, "StatefulSet")
    spec = statefulset["spec"]
    assert spec["replicas"] == 1
    (claim,) = spec["volumeClaimTemplates"]
    (main,) = spec["template"]["spec"]["containers"]
    assert main["args"][:2] == ["main", "/data/root"]
    assert {m["name"] for m in main["volumeMounts"]} == {claim["metadata"]["name"]}
    services = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Service")}
    assert spec["serviceName"] in services
    (port,) = services[spec["serviceName"]]["spec"]["ports"]
    assert f"{spec['serviceName']}:{port['port']}" in flag(
        of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"], "--server")
    (secret,) = of_kind(docs, "Secret")
    assert "STORYREEL_TOKEN" in secret["data"]


def test_the_gpu_overlay_asks_for_one_nvidia_gpu_per_node() -> None:
    if kustomize_binary() is None:
        pytest.skip("no kustomize or kubectl here to apply the overlay's patch")
    (deployment,) = of_kind(built(KUSTOMIZATIONS[1]), "Deployment")
    (render,) = deployment["spec"]["template"]["spec"]["containers"]
    assert render["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert render["resources"]["limits"]["memory"]  # the base's limits are kept
    assert "video" in {e["name"]: e.get("value", "") for e in render["env"]}["NVIDIA_DRIVER_CAPABILITIES"]
