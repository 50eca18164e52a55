// The rule files the mixin generates, keyed by their path from the repository root
// (scripts/generate runs `jsonnet -S -m . mixin/build.jsonnet`; dashboards.jsonnet writes the
// dashboards).
// The test suite builds it again and fails when a committed file differs.
local mixin = import 'mixin.libsonnet';

local header(how) = |||
  # GENERATED from mixin/ (jsonnet) by scripts/generate. Do not edit: change mixin/*.libsonnet
  # (thresholds, selectors, durations and severities are in mixin/config.libsonnet) and run
  # scripts/generate. %s
||| % how;

local yaml = import 'lib/yaml.libsonnet';
local groups = mixin.prometheusRules.groups + mixin.prometheusAlerts.groups;

{
  'deploy/prometheus/securescore.rules.yml':
    header('Validate: promtool check rules deploy/prometheus/securescore.rules.yml') + yaml.groups(groups),
  'deploy/kubernetes/base/prometheusrule.yaml':
    header('The same groups as deploy/prometheus/securescore.rules.yml, for the Prometheus Operator.') + |||
      apiVersion: monitoring.coreos.com/v1
      kind: PrometheusRule
      metadata:
        name: securescore-exporter
        labels:
          app.kubernetes.io/name: securescore-exporter
          app.kubernetes.io/part-of: securescore
      spec:
    ||| + yaml.groups(groups, '  '),
}
