// The one place for every selector, threshold, duration, severity and dashboard setting of the
// securescore_exporter mixin. Override any of them from your own jsonnet:
//
//   (import 'securescore-mixin/mixin.libsonnet') + { _config+:: { dropPoints: 20 } }
//
// Every rule, alert, Alertmanager-facing label and dashboard threshold is generated from these
// values, so a changed threshold changes the alerts and the dashboards' colours together.
{
  _config+:: {
    // --- Selectors ----------------------------------------------------------------------------
    // The exporter's scrape jobs. Every rule and panel reads only series matching this; the
    // Kubernetes ServiceMonitor's job is "securescore-exporter", the other deploy files use
    // "securescore".
    exporterSelector: 'job=~"securescore.*"',
    // The labels that name one tenant. Everything else a scrape adds (instance, pod, a replica
    // label from federation) is aggregated away with max by (...), so two exporter replicas or
    // a rollout that changes the pod give one series and one alert per tenant.
    tenantLabels: ['job', 'tenant'],

    // --- Score bands (Microsoft's guidance) -------------------------------------------------
    // A ratio (current / max points) at or below this is a cause for concern; inclusive.
    concernRatio: 0.65,
    // A ratio at or above this is excellent.
    excellentRatio: 0.80,

    // --- Alert thresholds -------------------------------------------------------------------
    // Points lost within 24 h that count as a drop. A fall of max points (Microsoft retired a
    // control) is credited, so a retired completed control is not a drop.
    dropPoints: 10,
    // Age of the newest Graph snapshot after which the data is stale (Graph publishes daily).
    staleSeconds: 48 * 3600,
    // Days before a certificate credential's notAfter from which to warn.
    credentialExpiryDays: 14,
    // Share of a job's tenants that must fail at once for one fleet-wide alert, and the
    // fewest tenants that makes a fleet.
    fleetFailingRatio: 0.5,
    fleetFailingMinTenants: 3,
    // A named credential is "a fleet" when it serves at least this many tenants.
    credentialFleetMinTenants: 2,

    // --- Riding out scrape gaps -------------------------------------------------------------
    // The recording layer reads the newest sample of this window, so a failed scrape (or a
    // restart) shorter than it neither empties a series nor restarts an alert's pending clock;
    // a firing alert keeps firing for as long after its condition ends.
    gapTolerance: '10m',

    // --- Rule groups ------------------------------------------------------------------------
    // Tenant-level rules and alerts are cheap: they run every minute.
    fastInterval: '1m',
    // Rules that compare with a day earlier (tenant changes, control regressions, missing
    // tenants) read day-old data that moves once a day: every 5 minutes is plenty, and at
    // 500 tenants x 200 controls it is what keeps their cost low.
    dailyInterval: '5m',

    // --- for: durations -----------------------------------------------------------------------
    'for': {
      belowConcern: '1h',
      // "Stays below" the similar-size peers: a whole day.
      belowPeers: '1d',
      // Two refreshes (refresh.interval defaults to 1 h): one partial snapshot is not a drop.
      dropped: '3h',
      controlRegressed: '3h',
      maxChanged: '1h',
      dataStale: '1h',
      refreshFailing: '2h',
      // Sooner than refreshFailing, so the fleet alert is there to inhibit the per-tenant ones.
      fleetRefreshFailing: '30m',
      noScoreYet: '5d',
      tenantMissing: '15m',
      exporterDown: '15m',
      exporterAbsent: '15m',
      configReloadFailed: '5m',
      credentialExpiring: '1h',
    },

    // --- Severities ---------------------------------------------------------------------------
    // critical: a person is needed now. warning: business hours. info: the daily digest.
    // Nothing per tenant is critical: Secure Score is a daily snapshot, the exporter keeps the
    // last good data and backfill recovers up to 90 days, so no single-tenant event is lost
    // by waiting for the morning. A whole fleet going blind at once is the exception.
    severity: {
      belowConcern: 'info',
      belowPeers: 'info',
      noScoreYet: 'info',
      maxChanged: 'info',
      dropped: 'warning',
      controlRegressed: 'warning',
      dataStale: 'warning',
      refreshFailing: 'warning',
      tenantMissing: 'warning',
      exporterDown: 'warning',
      exporterAbsent: 'warning',
      configReloadFailed: 'warning',
      credentialExpiring: 'warning',
      fleetRefreshFailing: 'critical',
    },

    // Base of every alert's runbook_url (one section per alert, anchored by its lowercased name).
    runbookUrl: 'https://github.com/securescore-exporter/securescore_exporter/blob/main/docs/runbook.md',

    // --- Dashboards ---------------------------------------------------------------------------
    dashboardTags: ['securescore', 'microsoft-365', 'security'],
    dashboardRefresh: '30m',
    // uid prefix: the dashboards are securescore-fleet, securescore-tenant, securescore-exporter.
    dashboardUidPrefix: 'securescore-',
    // Rows of the fleet board's "lowest scores" and "biggest falls" tables.
    wallRows: 15,
    // The window of the change columns (a day-old comparison reads the backfilled days too).
    changeWindows: ['1d', '7d', '30d'],
    // Colours of the bands.
    colours: { concern: 'red', good: 'orange', excellent: 'green', failing: 'dark-red', noData: 'text' },
  },
}
