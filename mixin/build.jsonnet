// Every committed file the mixin generates, keyed by its path from the repository root:
//   jsonnet -S -m . mixin/build.jsonnet      (scripts/generate runs exactly this)
// The test suite builds it again and fails when a committed file differs.
local mixin = import 'mixin.libsonnet';

local header(how) = |||
  # GENERATED from mixin/ (jsonnet) by scripts/generate. Do not edit: change mixin/*.libsonnet
  # (thresholds, selectors, durations and severities are in mixin/config.libsonnet) and run
  # scripts/generate. %s
||| % how;

// Multi-line expressions as YAML block scalars (jsonnet writes `|` only for text ending in \n).
local blockExprs(groups) = [
  g { rules: [r + (if std.length(std.findSubstr('\n', r.expr)) > 0 && !std.endsWith(r.expr, '\n') then { expr: r.expr + '\n' } else {}) for r in g.rules] }
  for g in groups
];
local groups = blockExprs(mixin.prometheusRules.groups + mixin.prometheusAlerts.groups);
local yaml(v) = std.manifestYamlDoc(v, indent_array_in_object=true, quote_keys=false) + '\n';

{
  'deploy/prometheus/securescore.rules.yml':
    header('Validate: promtool check rules deploy/prometheus/securescore.rules.yml') + yaml({ groups: groups }),
  'deploy/kubernetes/base/prometheusrule.yaml':
    header('The same groups as deploy/prometheus/securescore.rules.yml, for the Prometheus Operator.') + yaml({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: {
        name: 'securescore-exporter',
        labels: {
          'app.kubernetes.io/name': 'securescore-exporter',
          'app.kubernetes.io/part-of': 'securescore',
        },
      },
      spec: { groups: groups },
    }),
} + {
  ['dashboards/%s.json' % name]: std.manifestJsonEx(mixin.grafanaDashboards[name + '.json'], '  ') + '\n'
  for name in [std.strReplace(k, '.json', '') for k in std.objectFields(mixin.grafanaDashboards)]
}
