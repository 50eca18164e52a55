// The exporter board: is securescore_exporter healthy. At 500 tenants it lists only the
// tenants that need a look (failing, oldest data), never one row per tenant.
local libFor = import 'lib.libsonnet';
local promql = import '../lib/promql.libsonnet';

{
  new(c)::
    local lib = libFor.new(c);
    local q = promql.new(c);
    local J = 'job=~"$job"';
    local up = 'job_tenant:securescore_up:max{%s}' % J;
    local rows = lib.tableHeight(c.wallRows);
    local hidden = { Time: true, instance: true, __name__: true };
    // Fixed one-hour windows: the figures do not change with the zoom level.
    local perHour(expr) = 'sum(increase(%s[1h]))' % expr;

    lib.dashboard(
      'exporter',
      'Secure Score — exporter health',
      'Is securescore_exporter healthy: targets, failing tenants, data age, refreshes, Graph requests and throttling, process resources.',
      [
        lib.stat(1, 'Targets up', [0, 0, 4, 4], 'count(up{%s} == 1) / count(up{%s})' % [J, J],
                 'Share of the exporter\'s scrape targets Prometheus reaches.', unit='percentunit',
                 thresholds=lib.steps([['red', null], ['green', 1]]), colorMode='background'),
        lib.stat(2, 'Tenants', [4, 0, 4, 4], 'count(%s)' % up, 'Tenants exported, over all replicas and shards.'),
        lib.stat(3, 'Refresh failing', [8, 0, 4, 4], 'count(%s == 0) or (0 * count(%s))' % [up, up],
                 'Tenants whose most recent refresh failed; the table below lists them.',
                 thresholds=lib.steps([['green', null], ['red', 1]])),
        lib.stat(4, 'Stale snapshots', [12, 0, 4, 4],
                 'count(time() - job_tenant:securescore_snapshot_timestamp_seconds:max{%s} > %d) or (0 * count(%s))' % [J, c.staleSeconds, up],
                 'Tenants whose newest Graph snapshot is older than %d h.' % (c.staleSeconds / 3600),
                 thresholds=lib.steps([['green', null], ['orange', 1]])),
        lib.stat(5, 'Config reload', [16, 0, 4, 4], 'min(securescore_config_last_reload_successful{%s})' % J,
                 'Whether the last configuration (re)load succeeded on every instance.',
                 thresholds=lib.steps([['red', null], ['green', 1]]), colorMode='background')
        + { fieldConfig+: { defaults+: { mappings: [{ type: 'value', options: { '0': { text: 'failed' }, '1': { text: 'ok' } } }] } } },
        lib.stat(6, 'Credential expiring first', [20, 0, 4, 4],
                 'min(securescore_credential_expiry_timestamp_seconds{%s}) - time()' % J,
                 'Time left on the certificate credential that expires first (empty without certificate credentials).',
                 unit='s', thresholds=lib.steps([['red', null], ['orange', 86400 * c.credentialExpiryDays / 2], ['green', 86400 * c.credentialExpiryDays]])),

        lib.table(7, 'Failing tenants', [0, 4, 12, rows], [
          lib.target('max by (%s) (%s == 0)' % [q.by, up], 'A', instant=true, table=true),
          lib.target('max by (%s) (time() - securescore_last_refresh_success_timestamp_seconds{%s})' % [q.by, J], 'B', instant=true, table=true),
          lib.target('max by (%s) (job_tenant:securescore_tenant_info:credential{%s})' % [q.by + ', credential', J], 'C', instant=true, table=true),
        ], 'Only the tenants whose most recent refresh failed, longest failing first, with their credential. securescore_refresh_failures_total and the exporter\'s log say why.',
          { excludeByName: hidden + { 'Value #A': true, 'Value #C': true },
            indexByName: { tenant: 0, 'Value #B': 1, credential: 2, job: 3 },
            renameByName: { tenant: 'Tenant', 'Value #B': 'Since last success', credential: 'Credential', job: 'Job' } },
          ['Since last success', true],
          overrides=[lib.column('Tenant', links=lib.tenantLink), lib.column('Since last success', unit='s')],
          filterNull='Value #A'),
        lib.table(8, 'Oldest snapshots', [12, 4, 12, rows], [
          lib.target('topk(%d, max by (%s) (time() - job_tenant:securescore_snapshot_timestamp_seconds:max{%s}))' % [c.wallRows, q.by, J], 'A', instant=true, table=true),
        ], 'The %d tenants with the oldest Graph snapshot. Graph publishes one a day; beyond %d h SecureScoreDataStale fires.' % [c.wallRows, c.staleSeconds / 3600],
          { excludeByName: hidden, indexByName: { tenant: 0, Value: 1, job: 2 }, renameByName: { tenant: 'Tenant', Value: 'Snapshot age', job: 'Job' } },
          ['Snapshot age', true],
          overrides=[
            lib.column('Tenant', links=lib.tenantLink),
            lib.column('Snapshot age', unit='s', thresholds=lib.steps([['green', null], ['orange', c.staleSeconds * 3 / 4], ['red', c.staleSeconds]]), cell='color-text'),
          ]),

        lib.timeseries(9, 'Refreshes per hour', [0, 4 + rows, 12, 8], [
          lib.target('%s - %s' % [perHour('securescore_refresh_duration_seconds_count{%s}' % J), perHour('securescore_refresh_failures_total{%s}' % J)], 'A', 'success'),
          lib.target('sum by (reason) (increase(securescore_refresh_failures_total{%s}[1h]))' % J, 'B', 'failed: {{reason}}'),
        ], 'Tenant refreshes in the last hour that succeeded, and failures by reason (auth, throttled, http, transport, timeout, decode, security).', legendRight=false),
        lib.timeseries(10, 'Refresh duration', [12, 4 + rows, 12, 8], [
          lib.target('histogram_quantile(0.5, sum by (le) (rate(securescore_refresh_duration_seconds_bucket{%s}[1h])))' % J, 'A', 'p50'),
          lib.target('histogram_quantile(0.95, sum by (le) (rate(securescore_refresh_duration_seconds_bucket{%s}[1h])))' % J, 'B', 'p95'),
        ], 'Wall time of one tenant refresh over the last hour: token, secureScores and every control-profile page.', unit='s', legendRight=false),
        lib.timeseries(11, 'Graph requests per hour', [0, 12 + rows, 12, 8], [
          lib.target('sum by (endpoint, code) (increase(securescore_graph_requests_total{%s}[1h]))' % J, legend='{{endpoint}} {{code}}'),
        ], 'Requests to Entra ID (token) and Microsoft Graph in the last hour, by endpoint and HTTP status.', legendRight=false),
        lib.timeseries(12, 'Throttling and partial answers per hour', [12, 12 + rows, 12, 8], [
          lib.target('sum by (endpoint) (increase(securescore_graph_requests_total{%s, code="429"}[1h]))' % J, 'A', '429 {{endpoint}}'),
          lib.target('sum by (endpoint) (increase(securescore_graph_partial_responses_total{%s}[1h]))' % J, 'B', '206 {{endpoint}}'),
        ], 'Throttled requests (Graph allows 150 a minute and 4 concurrent per tenant) and 206 Partial Content answers, in the last hour.', legendRight=false),

        lib.panel(13, 'bargauge', 'Certificate credentials: days left', [0, 20 + rows, 24, 5],
                  [lib.target('min by (credential) (securescore_credential_expiry_timestamp_seconds{%s} - time()) / 86400' % J, legend='{{credential}}', instant=true)],
                  'Days until each certificate credential expires (SecureScoreCredentialExpiring fires under %d). Empty when no certificate credential is configured.' % c.credentialExpiryDays,
                  unit='d', thresholds=lib.steps([['red', null], ['orange', c.credentialExpiryDays], ['green', 2 * c.credentialExpiryDays]]),
                  options={ orientation: 'horizontal', displayMode: 'basic', showUnfilled: true, valueMode: 'color', reduceOptions: lib.reduce, minVizHeight: 10, minVizWidth: 0, namePlacement: 'auto', sizing: 'auto' }),
        lib.timeseries(14, 'CPU', [0, 25 + rows, 12, 7], [lib.target('rate(process_cpu_seconds_total{%s}[5m])' % J, legend='{{instance}}')],
                       'CPU used by each exporter process (1.0 = one core).', unit='percentunit', legendRight=false),
        lib.timeseries(15, 'Memory', [12, 25 + rows, 12, 7], [lib.target('process_resident_memory_bytes{%s}' % J, legend='{{instance}}')],
                       'Resident memory of each exporter process.', unit='bytes', legendRight=false),
      ],
      [lib.datasourceVar, lib.jobVar],
      from='now-24h',
    ),
}
