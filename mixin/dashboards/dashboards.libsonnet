// grafanaDashboards: the fleet, tenant and exporter boards, keyed by file name as the mixin
// convention wants (dashboards/<name>.json is generated from each).
{
  grafanaDashboards+:: {
    local c = $._config,
    'securescore-fleet.json': (import 'fleet.libsonnet').new(c),
    'securescore-tenant.json': (import 'tenant.libsonnet').new(c),
    'securescore-exporter.json': (import 'exporter.libsonnet').new(c),
  },
}
