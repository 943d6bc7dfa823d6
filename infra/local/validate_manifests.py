#!/usr/bin/env python3
"""Offline checks of the Kubernetes manifests (infra/k8s) and the monitoring files
(infra/observability), run by infra/local/validate-manifests.sh (part of `make test`).

- Each overlay is rendered with `kubectl kustomize` when kubectl is there; without it, each file a
  kustomization lists is checked alone and the composition is reported as NOT checked.
- Built-in kinds are validated strictly (unknown fields are errors) against the Kubernetes
  schemas kubernetes-validate bundles, for the oldest and the newest version we support. A kind
  with no schema fails, unless it is one of the prometheus-operator kinds below: a typo in an
  apiVersion must not slip through as "no schema, skipped".
- ServiceMonitor and PrometheusRule are validated strictly against JSON schemas derived from
  prometheus-operator's own CRD types (the models of `cloudcoil-models-prometheus-operator`).
- Kefu's own rules: secrets only by reference, the region's settings, the pod security settings,
  references between objects, and one region's values never mixed with another's.
- The alert rules' shape, the PrometheusRule being exactly alerts.yml, every `kefu_*` metric the
  rules and the dashboard name being one the api records, every recorded metric being documented,
  and (with promtool) the rules' and the dashboard's PromQL parsing and the alerts' unit tests.

`--write-prometheusrule` rewrites infra/k8s/base/prometheusrule.yaml from alerts.yml.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import yaml
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
OBSERVABILITY = ROOT / "infra" / "observability"
ALERTS = OBSERVABILITY / "alerts.yml"
ALERT_TESTS = OBSERVABILITY / "alerts.test.yml"
DASHBOARD = OBSERVABILITY / "kefu-dashboard.json"
PROMETHEUS_RULE = K8S / "base" / "prometheusrule.yaml"

# The oldest Kubernetes the manifests support (preStop `sleep` is on by default from 1.30) and
# the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ["1.30", "1.37"]
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
CLUSTER_SCOPED = {"Namespace"}
# The Secrets the operator creates (docs/kubernetes.md, "Secrets").
SECRETS = {"kefu-api", "kefu-edge"}
# Settings the manifests use before docs/configuration.md lists them: the api's graceful drain
# (issue 18). Remove an entry once the table has its row.
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")

problems = []
notes = []


def problem(message):
    if message not in problems:
        problems.append(message)


def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


# ---------------------------------------------------------------------------------------------
# Schemas


def strict(node):
    """Closes every object schema that lists its properties (no unknown fields), in place."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)
    return node


def crd_validators():
    from cloudcoil.models.prometheus_operator.v1 import PrometheusRule, ServiceMonitor

    return {
        ("monitoring.coreos.com/v1", kind.__name__): jsonschema.Draft202012Validator(
            strict(kind.model_json_schema(by_alias=True))
        )
        for kind in (ServiceMonitor, PrometheusRule)
    }


CRD_VALIDATORS = None


def validate_object(doc, where):
    global CRD_VALIDATORS
    if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
        problem(f"{where}: not a Kubernetes object (no apiVersion/kind)")
        return
    kind, api_version = doc["kind"], doc["apiVersion"]
    name = doc.get("metadata", {}).get("name", "?")
    if (api_version, kind) in CRDS:
        if CRD_VALIDATORS is None:
            CRD_VALIDATORS = crd_validators()
        for error in CRD_VALIDATORS[(api_version, kind)].iter_errors(doc):
            path = ".".join(str(p) for p in error.absolute_path)
            problem(f"{where}: {kind}/{name}: {path}: {error.message} (prometheus-operator CRD schema)")
        return
    for version in KUBERNETES_VERSIONS:
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            problem(f"{where}: {kind}/{name}: {path}: {error.message} (Kubernetes {version}, strict)")
            return
        except kv.SchemaNotFoundError:
            problem(f"{where}: {kind}/{name}: no schema for {api_version} {kind} in Kubernetes {version}")
            return


# ---------------------------------------------------------------------------------------------
# Rendering


def kubectl():
    path = shutil.which("kubectl")
    if not path:
        return None
    try:
        subprocess.run([path, "kustomize", "--help"], check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return None
    return path


def render(kubectl_path, directory):
    result = subprocess.run([kubectl_path, "kustomize", str(directory)], capture_output=True, text=True)
    if result.returncode != 0:
        problem(f"{directory.relative_to(ROOT)}: kubectl kustomize failed:\n{result.stderr.strip()}")
        return []
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def check_files_alone(directory):
    """Without kubectl: the files a kustomization lists, each validated on its own."""
    kustomization = load_yaml_docs(directory / "kustomization.yaml")[0]
    where = directory.relative_to(ROOT)
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            continue
        for doc in load_yaml_docs(path):
            validate_object(doc, path.relative_to(ROOT))
    for patch in kustomization.get("patches", []):
        if "path" in patch:
            load_yaml_docs(directory / patch["path"])
        elif "patch" in patch:
            yaml.safe_load(patch["patch"])
    for generator in kustomization.get("configMapGenerator", []):
        for source in generator.get("envs", []) + generator.get("files", []):
            if not (directory / source.split("=")[-1]).is_file():
                problem(f"{where}: configMapGenerator source {source} is missing")


# ---------------------------------------------------------------------------------------------
# Kefu's rules on a rendered region


def documented_settings():
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return set(re.findall(r"`((?:KEFU_[A-Z0-9_]+)|DATABASE_URL|REDIS_URL)`", text))


def pod_spec(doc):
    if doc["kind"] in ("Deployment", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def check_region(overlay, docs):
    where = f"infra/k8s/overlays/{overlay}"
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)

    def named(kind, name):
        return next((d for d in by_kind.get(kind, []) if d["metadata"]["name"] == name), None)

    namespaces = [d["metadata"]["name"] for d in by_kind.get("Namespace", [])]
    if len(namespaces) != 1:
        problem(f"{where}: expected one Namespace, got {namespaces}")
        return {}
    namespace = namespaces[0]
    for doc in docs:
        if doc["kind"] not in CLUSTER_SCOPED and doc["metadata"].get("namespace") != namespace:
            problem(f"{where}: {doc['kind']}/{doc['metadata']['name']} is not in namespace {namespace}")
    if by_kind.get("Secret"):
        problem(f"{where}: Secrets must not be in the manifests (they come from the secret store)")

    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind.get("ConfigMap", [])}
    api_config = next((data for name, data in config_maps.items() if name.startswith("kefu-api-config")), None)
    if api_config is None:
        problem(f"{where}: no kefu-api-config ConfigMap")
        return {}
    region = api_config.get("KEFU_REGION", "")
    if not re.fullmatch(r"[a-z0-9-]{1,32}", region):
        problem(f"{where}: KEFU_REGION `{region}` is not 1-32 characters of [a-z0-9-]")
    if region != overlay:
        problem(f"{where}: KEFU_REGION `{region}` differs from the overlay's name `{overlay}`")
    for key in ("KEFU_PUBLIC_URL", "KEFU_APP_URL", "KEFU_EDGE__PUBLIC_URL"):
        if not api_config.get(key, "").startswith("https://"):
            problem(f"{where}: {key} must be an https:// URL, got `{api_config.get(key)}`")
    known = documented_settings()
    for key in api_config:
        if key not in known:
            problem(f"{where}: {key} is not a setting in docs/configuration.md (a typo makes the api refuse to start)")
    if api_config.get("KEFU_MODE") != "production":
        problem(f"{where}: KEFU_MODE must be production")

    # Secrets by reference only, to the two documented Secrets, and documented.
    kubernetes_doc = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    for doc in by_kind.get("Deployment", []) + by_kind.get("Job", []):
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        spec = pod_spec(doc)
        security = spec.get("securityContext", {})
        if not (
            security.get("runAsNonRoot") is True
            and security.get("runAsUser") == 65532
            and security.get("runAsGroup") == 65532
            and security.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        ):
            problem(f"{where}: {name}: pod securityContext must run as 65532:65532, non-root, seccomp RuntimeDefault")
        if spec.get("enableServiceLinks") is not False:
            problem(f"{where}: {name}: enableServiceLinks must be false: the Services' KEFU_*_SERVICE_* variables would be read as unknown settings")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for volume in volumes.values():
            if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                problem(f"{where}: {name}: volume {volume['name']} names a ConfigMap that is not rendered")
            # Secrets go through env secretKeyRef; the one exception is the optional `kefu-tls`
            # with the private CAs of Postgres and Redis, which the api reads as files.
            if "secret" in volume and not (
                volume["secret"].get("secretName") == "kefu-tls" and volume["secret"].get("optional") is True
            ):
                problem(f"{where}: {name}: mount secrets through env secretKeyRef, not volumes (only the optional kefu-tls CAs are files)")
        for container in spec["containers"]:
            image = container.get("image", "")
            if "/" not in image or ":" not in image.rsplit("/", 1)[-1]:
                problem(f"{where}: {name}: image `{image}` has no registry or tag (set them in the overlay's images)")
            sc = container.get("securityContext", {})
            if not (
                sc.get("allowPrivilegeEscalation") is False
                and sc.get("readOnlyRootFilesystem") is True
                and sc.get("capabilities", {}).get("drop") == ["ALL"]
            ):
                problem(f"{where}: {name}/{container['name']}: container securityContext must forbid escalation, drop ALL and have a read-only root")
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                if ref is not None and ref not in config_maps:
                    problem(f"{where}: {name}: envFrom names ConfigMap {ref}, not rendered")
                if "secretRef" in source:
                    problem(f"{where}: {name}: envFrom secretRef hides which keys are used; use secretKeyRef")
            for env in container.get("env", []):
                value_from = env.get("valueFrom", {})
                secret = value_from.get("secretKeyRef")
                if secret:
                    if secret["name"] not in SECRETS:
                        problem(f"{where}: {name}: env {env['name']} reads unknown Secret {secret['name']}")
                    if f"`{secret['key']}`" not in kubernetes_doc:
                        problem(f"Secret key {secret['name']}/{secret['key']} is not documented in docs/kubernetes.md")
                config = value_from.get("configMapKeyRef")
                if config:
                    if config["name"] not in config_maps:
                        problem(f"{where}: {name}: env {env['name']} names ConfigMap {config['name']}, not rendered")
                    elif config["key"] not in config_maps[config["name"]]:
                        problem(f"{where}: {name}: env {env['name']} reads missing key {config['key']} of {config['name']}")
                if env.get("value", "").startswith(("postgres://", "redis://", "rediss://")):
                    problem(f"{where}: {name}: env {env['name']} holds a connection URL in clear; use the Secret")

    api = deployments.get("kefu-api")
    if api:
        spec = pod_spec(api)
        container = spec["containers"][0]
        delay = int(api_config.get("KEFU_HTTP__SHUTDOWN_DELAY_SECS", "0"))
        timeout = int(api_config.get("KEFU_HTTP__REQUEST_TIMEOUT_SECS", "15"))
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if grace < 60 or grace <= delay + timeout:
            problem(f"{where}: kefu-api terminationGracePeriodSeconds {grace} must be ≥ 60 and above the shutdown delay + request timeout")
        if delay <= 0:
            problem(f"{where}: KEFU_HTTP__SHUTDOWN_DELAY_SECS must be set: the drain relies on it")
        probes = {p: container.get(p, {}).get("httpGet", {}).get("path") for p in ("startupProbe", "readinessProbe", "livenessProbe")}
        if probes != {"startupProbe": "/healthz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}:
            problem(f"{where}: kefu-api probes must be startup /healthz, readiness /readyz, liveness /healthz, got {probes}")
    else:
        problem(f"{where}: no kefu-api Deployment")

    edge = deployments.get("kefu-edge")
    if edge:
        env = {e["name"]: e for e in pod_spec(edge)["containers"][0].get("env", [])}
        regions = env.get("EDGE__REGIONS", {}).get("value", "")
        if regions.count("name=") != 1 or 'name="$(REGION)"' not in regions:
            problem(f"{where}: the edge must route to its own region only (EDGE__REGIONS with name=\"$(REGION)\"), got `{regions}`")
        region_ref = env.get("REGION", {}).get("valueFrom", {}).get("configMapKeyRef", {})
        if region_ref.get("key") != "KEFU_REGION":
            problem(f"{where}: the edge's REGION must come from the api's KEFU_REGION")

    # Services select pods and name container ports that exist.
    services = {d["metadata"]["name"]: d for d in by_kind.get("Service", [])}
    for service in services.values():
        selector = service["spec"].get("selector", {})
        targets = [d for d in deployments.values() if labels_match(selector, d["spec"]["template"]["metadata"]["labels"])]
        if not targets:
            problem(f"{where}: Service/{service['metadata']['name']} selects no Deployment's pods")
            continue
        port_names = {p.get("name") for c in pod_spec(targets[0])["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            if isinstance(port.get("targetPort"), str) and port["targetPort"] not in port_names:
                problem(f"{where}: Service/{service['metadata']['name']} targets port {port['targetPort']}, not a container port")
    for kind in ("PodDisruptionBudget",):
        for doc in by_kind.get(kind, []):
            selector = doc["spec"]["selector"]["matchLabels"]
            if not any(labels_match(selector, d["spec"]["template"]["metadata"]["labels"]) for d in deployments.values()):
                problem(f"{where}: {kind}/{doc['metadata']['name']} selects no pods")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        if hpa["spec"]["scaleTargetRef"]["name"] not in deployments:
            problem(f"{where}: HorizontalPodAutoscaler/{hpa['metadata']['name']} scales a missing Deployment")
        if hpa["spec"]["minReplicas"] < 2:
            problem(f"{where}: the api needs at least 2 replicas to drain one")

    for monitor in by_kind.get("ServiceMonitor", []):
        selector = monitor["spec"]["selector"]["matchLabels"]
        selected = [s for s in services.values() if labels_match(selector, s["metadata"].get("labels", {}))]
        if not selected:
            problem(f"{where}: ServiceMonitor/{monitor['metadata']['name']} selects no Service")
        for endpoint in monitor["spec"]["endpoints"]:
            if selected and endpoint.get("port") not in {p.get("name") for p in selected[0]["spec"]["ports"]}:
                problem(f"{where}: ServiceMonitor endpoint port {endpoint.get('port')} is not a port of {selected[0]['metadata']['name']}")
            credentials = endpoint.get("authorization", {}).get("credentials", {})
            if (credentials.get("name"), credentials.get("key")) != ("kefu-api", "KEFU_HTTP__METRICS_TOKEN"):
                problem(f"{where}: the ServiceMonitor must present the api's metrics token (kefu-api/KEFU_HTTP__METRICS_TOKEN)")

    hosts = []
    for ingress in by_kind.get("Ingress", []):
        name = ingress["metadata"]["name"]
        tls_hosts = {h for t in ingress["spec"].get("tls", []) for h in t.get("hosts", [])}
        for rule in ingress["spec"].get("rules", []):
            host = rule.get("host", "")
            hosts.append(host)
            if host.endswith(".invalid") or not host:
                problem(f"{where}: Ingress/{name} keeps the placeholder host `{host}`: set the region's hosts")
            if host not in tls_hosts:
                problem(f"{where}: Ingress/{name}: host {host} has no TLS")
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = services.get(backend["name"])
                if service is None:
                    problem(f"{where}: Ingress/{name} sends {path['path']} to missing Service {backend['name']}")
                elif backend["port"].get("name") not in {p.get("name") for p in service["spec"]["ports"]}:
                    problem(f"{where}: Ingress/{name} names port {backend['port']} missing on {backend['name']}")
    public_hosts = {u.split("/")[2] for k, u in api_config.items() if k in ("KEFU_PUBLIC_URL", "KEFU_APP_URL", "KEFU_EDGE__PUBLIC_URL")}
    for host in public_hosts - set(hosts):
        problem(f"{where}: {host} (a public URL in the ConfigMap) has no Ingress rule")
    return {"namespace": namespace, "region": region, "hosts": set(hosts)}


def check_k8s(kubectl_path):
    overlays = sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
    if len(overlays) < 2:
        problem("infra/k8s/overlays: expected at least two regions")
    if kubectl_path is None:
        notes.append(
            "kubectl not found: each manifest was validated ALONE; the composition of base, components "
            "and overlays (patches, generators, names, the region rules) was NOT checked"
        )
        for directory in [K8S / "base", *sorted((K8S / "components").iterdir()), *overlays]:
            check_files_alone(directory)
        return
    for doc in render(kubectl_path, K8S / "base"):
        validate_object(doc, "infra/k8s/base (rendered)")
    seen = []
    for overlay in overlays:
        docs = render(kubectl_path, overlay)
        if not docs:
            continue
        for doc in docs:
            validate_object(doc, f"infra/k8s/overlays/{overlay.name} (rendered)")
        seen.append((overlay.name, check_region(overlay.name, docs)))
    for i, (a, first) in enumerate(seen):
        for b, second in seen[i + 1:]:
            for key in ("namespace", "region"):
                if first.get(key) and first.get(key) == second.get(key):
                    problem(f"overlays {a} and {b} share the {key} `{first[key]}`")
            for host in first.get("hosts", set()) & second.get("hosts", set()):
                problem(f"overlays {a} and {b} both serve {host}")


# ---------------------------------------------------------------------------------------------
# Monitoring


def recorded_metrics():
    """Every metric the api records: name -> macro (counter, gauge, histogram)."""
    found = {}
    pattern = re.compile(r"\b(counter|gauge|histogram)!\(\s*\"(kefu_[a-z0-9_]+)\"")
    for path in (ROOT / "api" / "src").rglob("*.rs"):
        for kind, name in pattern.findall(path.read_text(encoding="utf-8")):
            found[name] = kind
    return found


def check_metric_names(expressions, metrics, where):
    for expr in expressions:
        for token in set(re.findall(r"\bkefu_[a-z0-9_]+", expr)):
            if token in metrics:
                if metrics[token] == "histogram":
                    problem(f"{where}: {token} is a histogram: use {token}_bucket, _count or _sum")
                continue
            base = next((token[: -len(s)] for s in HISTOGRAM_SUFFIXES if token.endswith(s)), None)
            if base in metrics and metrics[base] == "histogram":
                continue
            problem(f"{where}: `{token}` is not a metric the api records (api/src: counter!/gauge!/histogram!)")


def prometheus_rule_text():
    lines = ALERTS.read_text(encoding="utf-8").splitlines()
    start = lines.index("groups:")
    body = "\n".join(("  " + line) if line else line for line in lines[start:])
    return (
        "# GENERATED from infra/observability/alerts.yml by\n"
        "# `infra/local/validate-manifests.sh --write-prometheusrule`; edit alerts.yml instead.\n"
        "# The same alert rules for prometheus-operator (docs/observability.md, \"Alerts\").\n"
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata:\n"
        "  name: kefu\n"
        "  labels:\n"
        "    app.kubernetes.io/name: kefu\n"
        "    app.kubernetes.io/component: monitoring\n"
        "spec:\n"
        f"{body}\n"
    )


def check_alerts(metrics):
    where = "infra/observability/alerts.yml"
    try:
        rules_file = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        problem(f"{where}: not YAML: {error}")
        return []
    if not isinstance(rules_file, dict) or set(rules_file) != {"groups"} or not isinstance(rules_file["groups"], list):
        problem(f"{where}: a rule file is a mapping with one key, `groups`, a list")
        return []
    expressions, group_names, alert_names = [], set(), set()
    duration = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
    for group in rules_file["groups"]:
        if not isinstance(group, dict) or not isinstance(group.get("name"), str) or not isinstance(group.get("rules"), list):
            problem(f"{where}: each group needs a `name` and a list of `rules`")
            continue
        if group["name"] in group_names:
            problem(f"{where}: group {group['name']} appears twice")
        group_names.add(group["name"])
        unknown = set(group) - {"name", "interval", "rules", "limit"}
        if unknown:
            problem(f"{where}: group {group['name']}: unknown keys {sorted(unknown)}")
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            unknown = set(rule) - {"alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"}
            if unknown or ("alert" in rule) == ("record" in rule) or not isinstance(rule.get("expr"), str):
                problem(f"{where}: rule {name}: exactly one of alert/record, a string expr, known keys only")
                continue
            expressions.append(rule["expr"])
            if "alert" not in rule:
                continue
            if name in alert_names:
                problem(f"{where}: alert {name} appears twice")
            alert_names.add(name)
            if not re.fullmatch(r"Kefu[A-Z][A-Za-z0-9]+", name):
                problem(f"{where}: alert {name}: names are KefuCamelCase")
            if "for" in rule and not duration.match(str(rule["for"])):
                problem(f"{where}: alert {name}: `for` is not a duration")
            if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                problem(f"{where}: alert {name}: labels.severity must be critical, warning or info")
            if not {"summary", "description"} <= set(rule.get("annotations", {})):
                problem(f"{where}: alert {name}: annotations need summary and description")
    observability_doc = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")
    for name in sorted(alert_names):
        if f"`{name}`" not in observability_doc:
            problem(f"{where}: alert {name} is not explained in docs/observability.md")
    check_metric_names(expressions, metrics, where)
    if PROMETHEUS_RULE.read_text(encoding="utf-8") != prometheus_rule_text():
        problem(
            "infra/k8s/base/prometheusrule.yaml differs from alerts.yml: run "
            "`infra/local/validate-manifests.sh --write-prometheusrule`"
        )
    return expressions


def dashboard_panels(panels):
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))


def check_dashboard(metrics):
    where = "infra/observability/kefu-dashboard.json"
    try:
        dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        problem(f"{where}: not JSON: {error}")
        return []
    inputs = {i.get("name"): i for i in dashboard.get("__inputs", [])}
    if inputs.get("DS_PROMETHEUS", {}).get("pluginId") != "prometheus":
        problem(f"{where}: __inputs must declare DS_PROMETHEUS, a prometheus datasource")
    expressions, ids = [], set()
    for panel in dashboard_panels(dashboard.get("panels", [])):
        if panel.get("id") in ids:
            problem(f"{where}: panel id {panel.get('id')} appears twice")
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        if panel.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            problem(f"{where}: panel `{panel.get('title')}` must use the ${{DS_PROMETHEUS}} datasource")
        if not panel.get("targets"):
            problem(f"{where}: panel `{panel.get('title')}` has no query")
        for target in panel.get("targets", []):
            if not target.get("expr"):
                problem(f"{where}: panel `{panel.get('title')}` has a target without expr")
            expressions.append(target.get("expr", ""))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            expressions.append(query.get("query", "") if isinstance(query, dict) else str(query))
    check_metric_names(expressions, metrics, where)
    # Grafana's variables, so promtool can parse the queries.
    substitutes = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$namespace": "kefu"}
    parsable = []
    for expr in expressions:
        if expr.startswith("label_values("):
            continue
        for variable, value in substitutes.items():
            expr = expr.replace(variable, value)
        parsable.append(expr)
    return parsable


def check_documented_metrics(metrics):
    doc = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")
    for name in sorted(metrics):
        if f"`{name}`" not in doc:
            problem(f"api/src records {name}, which docs/observability.md does not list")


def run_promtool(promtool, dashboard_expressions):
    if not promtool:
        problem("promtool was not found (KEFU_TEST_PROMTOOL): infra/local/test-tools.sh installs it")
        return
    for args in (["check", "rules", str(ALERTS)], ["test", "rules", str(ALERT_TESTS)]):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, cwd=OBSERVABILITY)
        if result.returncode != 0:
            problem(f"promtool {' '.join(args[:2])} failed:\n{result.stdout}{result.stderr}")
    # The dashboard's queries, parsed as recording rules.
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(dashboard_expressions)
    ]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f)
    try:
        result = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
        if result.returncode != 0:
            problem(f"the dashboard's PromQL does not parse:\n{result.stdout}{result.stderr}")
    finally:
        os.unlink(f.name)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-prometheusrule", action="store_true")
    args = parser.parse_args()
    if args.write_prometheusrule:
        PROMETHEUS_RULE.write_text(prometheus_rule_text(), encoding="utf-8")
        print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)}")
        return 0

    kubectl_path = kubectl()
    check_k8s(kubectl_path)
    metrics = recorded_metrics()
    if len(metrics) < 20:
        problem(f"found only {len(metrics)} metrics in api/src: the metric scan is broken")
    check_alerts(metrics)
    dashboard_expressions = check_dashboard(metrics)
    check_documented_metrics(metrics)
    run_promtool(os.environ.get("KEFU_TEST_PROMTOOL"), dashboard_expressions)

    for note in notes:
        print(f"NOTE: {note}")
    if problems:
        for message in problems:
            print(f"FAIL: {message}")
        print(f"validate-manifests: {len(problems)} problem(s)")
        return 1
    overlays = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
    how = "rendered with kubectl kustomize" if kubectl_path else "file by file (composition NOT checked)"
    print(
        f"validate-manifests: ok: base and overlays {', '.join(overlays)} {how}, strict against Kubernetes "
        f"{' and '.join(KUBERNETES_VERSIONS)} (ServiceMonitor, PrometheusRule against prometheus-operator's types); "
        f"alerts, their unit tests and the dashboard against {len(metrics)} recorded metrics"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
