// securescore_exporter's monitoring mixin: prometheusRules (the recording layer),
// prometheusAlerts and grafanaDashboards, all generated from one _config (config.libsonnet).
//
//   local securescore = (import 'securescore_exporter/mixin/mixin.libsonnet') + {
//     _config+:: { exporterSelector: 'job="securescore"', dropPoints: 20 },
//   };
//   securescore.prometheusAlerts   // { groups: [...] }
(import 'config.libsonnet') +
(import 'rules.libsonnet') +
(import 'alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
