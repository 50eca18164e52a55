// Recording rules: the layer every alert and dashboard reads.
//
// One series per tenant (`max by (job, tenant)`): two exporter replicas, a pod rollout that
// changes `instance`, or a federation label never double a tenant or an alert. Each reads the
// newest sample within _config.gapTolerance, so a failed scrape does not empty a series.
// Names follow level:metric:operations.
local promql = import 'lib/promql.libsonnet';

{
  prometheusRules+:: {
    local c = $._config,
    local q = promql.new(c),
    groups+: [
      {
        name: 'securescore.rules',
        interval: c.fastInterval,
        rules: [
          {
            // 1 while the tenant's most recent refresh succeeded on any replica.
            record: 'job_tenant:securescore_up:max',
            expr: q.tenantLast('securescore_up'),
          },
          {
            record: 'job_tenant:securescore_current_points:max',
            expr: q.tenantLast('securescore_current_points'),
          },
          {
            record: 'job_tenant:securescore_max_points:max',
            expr: q.tenantLast('securescore_max_points'),
          },
          {
            record: 'job_tenant:securescore_snapshot_timestamp_seconds:max',
            expr: q.tenantLast('securescore_snapshot_timestamp_seconds'),
          },
          {
            // One credential per tenant (topk: replicas with different configs never make the
            // join many-to-many); value 1, so joining it onto an alert keeps the alert's value.
            record: 'job_tenant:securescore_tenant_info:credential',
            expr: 'topk by (%s) (1, %s)' % [q.by, q.tenantLast('securescore_tenant_info', labels=['credential'])],
          },
          {
            // Score ratio; absent while max is 0 or before the first record (no data, not zero).
            record: 'job_tenant:securescore_score:ratio',
            expr: 'job_tenant:securescore_current_points:max / (job_tenant:securescore_max_points:max > 0)',
          },
          {
            // Graph's average of similar-size organisations (TotalSeats), as a ratio.
            record: 'job_tenant:securescore_peer_total_seats:ratio',
            expr: q.tenantLast('securescore_peer_average_ratio', 'basis="total_seats"'),
          },
          {
            record: 'job_tenant:securescore_peer_all_tenants:ratio',
            expr: q.tenantLast('securescore_peer_average_ratio', 'basis="all_tenants"'),
          },
          {
            record: 'job_tenant_category:securescore_category:ratio',
            expr: '%s\n/ (%s > 0)' % [
              q.tenantLast('securescore_category_points', labels=['category']),
              q.tenantLast('securescore_category_max_points', labels=['category']),
            ],
          },
        ],
      },
      {
        // Day-over-day changes. They read the newest sample of the day before, so they work
        // on backfilled days (one sample at 00:00) as on live ones.
        name: 'securescore.daily.rules',
        interval: c.dailyInterval,
        rules: [
          {
            // Microsoft changed the achievable total (recommendations added or retired).
            record: 'job_tenant:securescore_max_points:delta1d',
            expr: 'job_tenant:securescore_max_points:max\n- %s' % q.tenantDayAgo('securescore_max_points'),
          },
          {
            // Points lost since a day earlier, crediting any fall of max points: a retired
            // control the tenant had completed takes current and max down together, not a drop.
            record: 'job_tenant:securescore_current_points:drop1d',
            expr: '(\n  %s\n  - job_tenant:securescore_current_points:max\n)\n- clamp_min(-job_tenant:securescore_max_points:delta1d, 0)' % q.tenantDayAgo('securescore_current_points'),
          },
        ] + [
          {
            // Per control, how much it fell since a day earlier, for the controls that moved
            // only (`!= 0`: a handful of series, not one per control). The control series are
            // most of all series (about 100-200 a tenant); these two rules are the only ones
            // that read them, each once now and once a day earlier.
            record: 'job_tenant_control:%s:fall1d' % metric,
            expr: '(\n  %s\n  - %s\n)\n!= 0' % [
              q.tenantLast(metric, labels=['control'], offset='1d'),
              q.tenantLast(metric, labels=['control']),
            ],
          }
          for metric in ['securescore_control_points', 'securescore_control_max_points']

        ],
      },
    ],
  },
}
