// Alerting rules: every alert of the contract (../shared/reference/contract.md, "Alert names").
//
// Per-tenant alerts read the recording layer (rules.libsonnet), so they carry exactly `job`,
// `tenant` and `credential`: one alert per tenant whatever the replicas, and a fleet-wide alert
// can inhibit the per-tenant alerts it explains. Every alert keeps firing for
// _config.gapTolerance after its condition ends, so a scrape gap neither resolves nor
// re-notifies it.
local promql = import 'lib/promql.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local q = promql.new(c),
    local pct(r) = '%d %%' % std.floor(r * 100 + 0.5),
    local alert(name, key, expr, summary, description, extraLabels={}) = {
      alert: name,
      expr: expr,
      'for': c['for'][key],
      keep_firing_for: c.gapTolerance,
      labels: { severity: c.severity[key] } + extraLabels,
      annotations: {
        summary: summary,
        description: description,
        runbook_url: '%s#%s' % [c.runbookUrl, std.asciiLower(name)],
      },
    },

    groups+: [
      {
        name: 'securescore.alerts',
        interval: c.fastInterval,
        rules: [
          alert(
            'SecureScoreBelowConcern',
            'belowConcern',
            q.withCredential('job_tenant:securescore_score:ratio <= %g' % c.concernRatio),
            'Secure Score of {{ $labels.tenant }} is at or below %s.' % pct(c.concernRatio),
            'Tenant {{ $labels.tenant }} scores {{ $value | humanizePercentage }} of its achievable points (concern at or below %s).' % pct(c.concernRatio),
          ),
          alert(
            'SecureScoreBelowPeers',
            'belowPeers',
            q.withCredential('job_tenant:securescore_score:ratio\n< job_tenant:securescore_peer_total_seats:ratio'),
            'Secure Score of {{ $labels.tenant }} is below similar-size organisations.',
            'Tenant {{ $labels.tenant }} has scored below the average of similar-size organisations (Graph TotalSeats) for %s; now {{ $value | humanizePercentage }}.' % c['for'].belowPeers,
          ),
          alert(
            'SecureScoreDataStale',
            'dataStale',
            // Only while refreshes succeed: then Graph itself has nothing newer.
            q.withCredential('(time() - job_tenant:securescore_snapshot_timestamp_seconds:max > %d)\nand on (%s) (job_tenant:securescore_up:max == 1)' % [c.staleSeconds, q.by]),
            'Graph has no new Secure Score snapshot for {{ $labels.tenant }}.',
            'Tenant {{ $labels.tenant }}: the newest snapshot Graph returns is {{ $value | humanizeDuration }} old, although the exporter reaches Graph fine.',
          ),
          alert(
            'SecureScoreRefreshFailing',
            'refreshFailing',
            q.withCredential('job_tenant:securescore_up:max == 0'),
            'The exporter cannot refresh {{ $labels.tenant }} from Microsoft Graph.',
            'Tenant {{ $labels.tenant }} (credential {{ $labels.credential }}): refreshes have failed for %s; the exporter serves the last good values. securescore_refresh_failures_total says why.' % c['for'].refreshFailing,
          ),
          alert(
            'SecureScoreNoScoreYet',
            'noScoreYet',
            // "Up" within the last 15 minutes, so an exporter restart does not restart 5 days.
            q.withCredential('(max_over_time(job_tenant:securescore_up:max[15m]) == 1)\nunless on (%s) job_tenant:securescore_current_points:max' % q.by),
            'Graph has returned no Secure Score for {{ $labels.tenant }} for %s.' % c['for'].noScoreYet,
            'Tenant {{ $labels.tenant }}: refreshes succeed but Graph answers secureScores with no record (normal for 2-4 days after a tenant is created or licensed). Check the tenant has a Secure Score in the Defender portal.',
          ),
          alert(
            'SecureScoreFleetRefreshFailing',
            'fleetRefreshFailing',
            '(count by (job) (job_tenant:securescore_up:max == 0) >= %d)\nand on (job)\n(\n  count by (job) (job_tenant:securescore_up:max == 0)\n  / count by (job) (job_tenant:securescore_up:max)\n  >= %g\n)' % [c.fleetFailingMinTenants, c.fleetFailingRatio],
            'Most tenants of {{ $labels.job }} cannot be refreshed.',
            '{{ $value }} tenants of job {{ $labels.job }} (at least %s of them) fail to refresh at once: look for a shared cause (network, Graph outage, the app registration). Their own SecureScoreRefreshFailing alerts are inhibited.' % pct(c.fleetFailingRatio),
            { scope: 'job' },
          ),
          alert(
            'SecureScoreFleetRefreshFailing',
            'fleetRefreshFailing',
            '(\n  count by (job, credential) (\n    (job_tenant:securescore_up:max == 0)\n    * on (%s) group_left (credential) job_tenant:securescore_tenant_info:credential\n  )\n  == count by (job, credential) (job_tenant:securescore_tenant_info:credential)\n)\nand on (job, credential)\n(count by (job, credential) (job_tenant:securescore_tenant_info:credential) >= %d)' % [q.by, c.credentialFleetMinTenants],
            'Every tenant of credential {{ $labels.credential }} fails to refresh.',
            'All {{ $value }} tenants that sign in with credential {{ $labels.credential }} (job {{ $labels.job }}) fail to refresh: the secret or certificate probably expired or was revoked, or admin consent was withdrawn. Their own SecureScoreRefreshFailing alerts are inhibited.',
            { scope: 'credential' },
          ),
        ],
      },
      {
        // Comparisons with a day earlier, at _config.dailyInterval. Control-level series are
        // the bulk of all series (200 a tenant): these rules read a gap-tolerance window now
        // and one a day earlier, never a day-long range per control.
        name: 'securescore.daily.alerts',
        interval: c.dailyInterval,
        rules: [
          alert(
            'SecureScoreDropped',
            'dropped',
            // Recorded every 5 minutes in another group: the newest within the gap tolerance.
            q.withCredential('last_over_time(job_tenant:securescore_current_points:drop1d[%s]) >= %g' % [c.gapTolerance, c.dropPoints]),
            'Secure Score of {{ $labels.tenant }} dropped by {{ $value | printf "%.2f" }} points within 24 hours.',
            'Tenant {{ $labels.tenant }} lost {{ $value | printf "%%.2f" }} points since a day earlier (threshold %s; a fall of max points, a retired control, is credited). SecureScoreControlRegressed names the controls.' % c.dropPoints,
          ),
          alert(
            'SecureScoreControlRegressed',
            'controlRegressed',
            // Fewer points than a day earlier, unless Microsoft lowered the control's maximum
            // at least as much (a retired or re-weighted control is not a regression). Reads
            // only the recorded falls (a few series); the title comes from a query in the
            // description, run only for a firing alert, instead of a join over every control.
            q.withCredential(|||
              (last_over_time(job_tenant_control:securescore_control_points:fall1d[%(gap)s]) > 0)
              unless on (%(by)s, control)
              (
                last_over_time(job_tenant_control:securescore_control_max_points:fall1d[%(gap)s])
                >= on (%(by)s, control) last_over_time(job_tenant_control:securescore_control_points:fall1d[%(gap)s])
              )
            ||| % { by: q.by, gap: c.gapTolerance }),
            'Control {{ $labels.control }} of {{ $labels.tenant }} lost points.',
            'Tenant {{ $labels.tenant }}: control {{ $labels.control }} ("{{ with printf "max by (title) (last_over_time(securescore_control_info{job=%%q, tenant=%%q, control=%%q}[1d]))" $labels.job $labels.tenant $labels.control | query }}{{ . | first | label "title" }}{{ end }}") has {{ $value | printf "%%.2f" }} fewer points than a day earlier.' % {},
          ),
          alert(
            'SecureScoreMaxChanged',
            'maxChanged',
            q.withCredential('last_over_time(job_tenant:securescore_max_points:delta1d[%s]) != 0' % c.gapTolerance),
            'Achievable Secure Score of {{ $labels.tenant }} changed.',
            'Tenant {{ $labels.tenant }}: Microsoft changed the achievable total by {{ $value | printf "%+.2f" }} points since a day earlier; recommendations were added or retired.',
          ),
          alert(
            'SecureScoreTenantMissing',
            'tenantMissing',
            // Only while every target of the job is scraped: a down exporter is ExporterDown.
            |||
              (
                (
                  max_over_time(job_tenant:securescore_up:max[1d])
                  unless on (%(by)s) job_tenant:securescore_up:max
                )
                and on (job) (min by (job) (up{%(sel)s}) == 1)
              )
              * on (%(by)s) group_left (credential)
              topk by (%(by)s) (1, max_over_time(job_tenant:securescore_tenant_info:credential[1d]))
            ||| % { by: q.by, sel: c.exporterSelector },
            'Tenant {{ $labels.tenant }} is no longer exported.',
            'Tenant {{ $labels.tenant }} was exported by job {{ $labels.job }} within the last day and is gone now, while every target of the job is up. Removed from the configuration on purpose? Then this resolves after a day.',
          ),
        ],
      },
      {
        name: 'securescore.exporter.alerts',
        interval: c.fastInterval,
        rules: [
          alert(
            'SecureScoreExporterDown',
            'exporterDown',
            'up{%s} == 0' % c.exporterSelector,
            'Prometheus cannot scrape securescore_exporter at {{ $labels.instance }}.',
            'The scrape of {{ $labels.instance }} (job {{ $labels.job }}) has failed for %s. Nothing is lost: the exporter keeps its data, and `backfill` recovers the days Prometheus missed.' % c['for'].exporterDown,
          ),
          alert(
            'SecureScoreExporterAbsent',
            'exporterAbsent',
            'absent(up{%s})' % c.exporterSelector,
            'Prometheus has no securescore_exporter target at all.',
            'No target matches {%s}: service discovery, the scrape config or the ServiceMonitor lost the exporter, so nothing can even be down.' % c.exporterSelector,
          ),
          alert(
            'SecureScoreConfigReloadFailed',
            'configReloadFailed',
            'max by (job, instance) (%s) == 0' % q.m('securescore_config_last_reload_successful'),
            'securescore_exporter at {{ $labels.instance }} could not reload its configuration.',
            'The last configuration reload of {{ $labels.instance }} (job {{ $labels.job }}) failed; it keeps running with the previous configuration. `securescore_exporter check-config` names the bad key.',
          ),
          alert(
            'SecureScoreCredentialExpiring',
            'credentialExpiring',
            'min by (job, credential) (%s) - time() < %d' % [q.m('securescore_credential_expiry_timestamp_seconds'), c.credentialExpiryDays * 86400],
            'Certificate credential {{ $labels.credential }} expires soon.',
            'The certificate of credential {{ $labels.credential }} has {{ $value | humanizeDuration }} left (negative, expired); renew it, upload the new certificate to the app registration and replace the file.',
          ),
        ],
      },
    ],
  },
}
