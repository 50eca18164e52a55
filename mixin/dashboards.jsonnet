// The Grafana dashboards, keyed by file name (scripts/generate runs
// `jsonnet -m dashboards mixin/dashboards.jsonnet`: jsonnet's own JSON output, much faster than
// std.manifestJsonEx).
(import 'mixin.libsonnet').grafanaDashboards
