"""The Kubernetes manifests parse and agree with the code: image/module, env the code reads, config keys
the loader accepts, volumes that exist; and VIDGEN_EXECUTOR=k8s selects the k8s job executor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from vidgen_dagster.core.common.config import _merge, load_defaults
from vidgen_dagster.definitions import build_definitions

K8S = Path(__file__).resolve().parents[1] / "k8s"


def docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def test_helm_values_point_at_the_code_location_and_volumes():
    (values,) = docs("values.yaml")
    (dep,) = values["dagster-user-deployments"]["deployments"]
    assert dep["dagsterApiGrpcArgs"] == ["-m", "vidgen_dagster.definitions"]
    env = {e["name"]: e["value"] for e in dep["env"]}
    assert env["VIDGEN_EXECUTOR"] == "k8s" and env["VIDGEN_HOME"].startswith("/data")
    claims = {v["persistentVolumeClaim"]["claimName"] for v in dep["volumes"] if "persistentVolumeClaim" in v}
    storage = {d["metadata"]["name"]: d for d in docs("storage.yaml")}
    assert claims <= set(storage)
    assert all(storage[c]["spec"]["accessModes"] == ["ReadWriteMany"] for c in claims)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runRetries"]["enabled"] is True
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert "vidgen_dagster.definitions" in (K8S / "Dockerfile").read_text()


def test_cluster_config_is_valid_and_points_at_the_vllm_services():
    config_map = next(d for d in docs("storage.yaml") if d["kind"] == "ConfigMap")
    user = yaml.safe_load(config_map["data"]["vidgen.yaml"])
    merged = _merge(load_defaults(), user)  # unknown keys would raise ConfigError
    services = {d["metadata"]["name"] for d in docs("vllm.yaml") if d["kind"] == "Service"}
    for section in ("captions", "judge"):
        assert merged[section]["backend"] == "openai"
        host = merged[section]["openai_base_url"].split("//")[1].split(":")[0]
        assert host in services
    served = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["args"][1]
              for d in docs("vllm.yaml") if d["kind"] == "Deployment"}
    assert served["vllm-captioner"] == merged["captions"]["openai_model"]
    assert served["vllm-judge"] == merged["judge"]["openai_model"]
    # the served weights are the revisions `vidgen models pull` pins for the same models
    from vidgen_dagster.core.backends.transformers_chat import JUDGE_LLM_REVISION
    from vidgen_dagster.core.captioning.transformers_backend import VLM_REVISION

    args = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["args"]
            for d in docs("vllm.yaml") if d["kind"] == "Deployment"}
    revision = {name: a[a.index("--revision") + 1] for name, a in args.items()}
    assert revision == {"vllm-captioner": VLM_REVISION, "vllm-judge": JUDGE_LLM_REVISION}


def test_k8s_executor_is_selected_by_environment(home, monkeypatch):
    monkeypatch.setenv("VIDGEN_EXECUTOR", "k8s")
    job = build_definitions(str(home)).resolve_job_def("curate_shard")
    assert job.executor_def.name == "k8s"
    monkeypatch.delenv("VIDGEN_EXECUTOR")
    assert build_definitions(str(home)).resolve_job_def("curate_shard").executor_def.name == "in_process"


# -- the manifests against the Kubernetes API schemas ----------------------------------------------------
# kubernetes-validate ships the API's JSON schemas (no cluster, no download). Strict mode rejects unknown
# fields, the mistake a YAML typo makes silently (a misspelt `resources` key is simply ignored by kubectl
# apply with client-side defaults). 1.30: a version every managed Kubernetes still offers.
K8S_VERSION = "1.30"


def validate(doc: dict) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("name", ["storage.yaml", "vllm.yaml"])
def test_manifests_are_valid_kubernetes_objects(name):
    kinds = []
    for doc in docs(name):
        validate(doc)
        kinds.append(doc["kind"])
    expected = {"storage.yaml": {"PersistentVolumeClaim", "ConfigMap", "Job"},
                "vllm.yaml": {"Deployment", "Service"}}[name]
    assert set(kinds) == expected


def test_schema_validation_catches_a_misspelt_field():
    import kubernetes_validate

    job = next(d for d in docs("storage.yaml") if d["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []  # not a Container field
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(job)


def test_vllm_servers_get_a_gpu_and_the_models_volume():
    pvcs = {d["metadata"]["name"] for d in docs("storage.yaml") if d["kind"] == "PersistentVolumeClaim"}
    for dep in (d for d in docs("vllm.yaml") if d["kind"] == "Deployment"):
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        assert {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]} <= pvcs


def _deployment_pod(values: dict) -> dict:
    """The user-code Deployment the chart renders from our values, reduced to what we set: the fields
    are placed as the chart places them (container env, mounts, resources; pod volumes)."""
    (dep,) = values["dagster-user-deployments"]["deployments"]
    container = {"name": dep["name"], "image": f"{dep['image']['repository']}:{dep['image']['tag']}",
                 "imagePullPolicy": dep["image"]["pullPolicy"],
                 "args": ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(dep["port"]),
                          *dep["dagsterApiGrpcArgs"]],
                 "env": dep["env"], "volumeMounts": dep["volumeMounts"], "resources": dep["resources"]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": dep["name"]},
            "spec": {"containers": [container], "volumes": dep["volumes"]}}


def test_helm_values_pieces_are_valid_kubernetes_fields():
    (values,) = docs("values.yaml")
    validate(_deployment_pod(values))
    run_cfg = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    container = {"name": "run", "image": "x", **run_cfg["containerConfig"]}
    validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "run"}, "spec": {"containers": [container]}})


# -- the step pods dagster-k8s builds from each asset's op_tags -----------------------------------------
def _step_jobs(home) -> dict[str, tuple[dict, dict, str | None]]:
    """For every op of both jobs: (its tags, the Kubernetes Job that k8s_job_executor would create),
    built by dagster-k8s's own code (the tag parser, the container-context merge and the job builder)
    with the Helm values' deployment env and volumes and the run launcher's runK8sConfig underneath."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import (
        DagsterK8sJobConfig,
        UserDefinedDagsterK8sConfig,
        construct_dagster_k8s_job,
        get_user_defined_k8s_config,
    )
    from kubernetes.client import ApiClient

    (values,) = docs("values.yaml")
    (dep,) = values["dagster-user-deployments"]["deployments"]
    run_cfg = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    snake = {"containerConfig": "container_config", "podSpecConfig": "pod_spec_config",
             "podTemplateSpecMetadata": "pod_template_spec_metadata", "jobSpecConfig": "job_spec_config",
             "jobMetadata": "job_metadata", "jobConfig": "job_config"}
    base = K8sContainerContext(
        env=dep["env"], volumes=dep["volumes"], volume_mounts=dep["volumeMounts"],
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict({snake[k]: v for k, v in run_cfg.items()}))
    job_config = DagsterK8sJobConfig(
        job_image=f"{dep['image']['repository']}:{dep['image']['tag']}", dagster_home="/opt/dagster/dagster_home",
        instance_config_map="vidgen-dagster-instance", postgres_password_secret="vidgen-postgresql-secret")
    defs = build_definitions(str(home))
    out = {}
    for job_name in ("curate_shard", "build_dataset"):
        for node in defs.resolve_job_def(job_name).nodes_in_topological_order:
            ctx = base.merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(node.tags)))
            name = f"dagster-step-{node.name.replace('_', '-')}"
            job = construct_dagster_k8s_job(
                job_config, ["dagster", "api", "execute_step"], name, user_defined_k8s_config=ctx.run_k8s_config,
                pod_name=name, component="step_worker", labels={"dagster/op": node.name},
                env_vars=[{"name": "DAGSTER_RUN_STEP_KEY", "value": node.name}])
            out[node.name] = (dict(node.tags), ApiClient().sanitize_for_serialization(job), node.definition.pool)
    return out


def test_every_step_pod_is_a_valid_job_with_gpu_only_where_the_gpu_pool_is(home):
    jobs = _step_jobs(home)
    gpu_steps = {name for name, (_, _, pool) in jobs.items() if pool == "gpu"}
    assert gpu_steps == {"motion_scores", "visual_scores", "captions", "caption_checks"}
    mounts = {"/data", "/models", "/config"}
    for name, (tags, job, _) in jobs.items():
        validate(job)
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        limits = container.get("resources", {}).get("limits", {})
        assert (limits.get("nvidia.com/gpu") == "1") == (name in gpu_steps), name
        assert {m["mountPath"] for m in container["volumeMounts"]} >= mounts, name
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["VIDGEN_EXECUTOR"] == "k8s" and env["VIDGEN_HOME"] == "/data/vidgen", name
        if "dagster-k8s/config" in tags:  # sized steps: the asset's requests win over the run default
            wanted = json.loads(tags["dagster-k8s/config"])["container_config"]["resources"]
            assert container["resources"]["requests"] == wanted["requests"], name
            assert container["resources"].get("limits") == wanted.get("limits"), name
            node_selector = json.loads(tags["dagster-k8s/config"]).get("pod_spec_config", {}).get("node_selector")
            assert pod.get("node_selector", pod.get("nodeSelector")) == node_selector, name
