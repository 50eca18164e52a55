// The fleet board: an MSP's wall for hundreds of tenants. Counts, a distribution and short
// top/bottom tables instead of one line per tenant; every tenant cell links to its board.
local libFor = import 'lib.libsonnet';
local promql = import '../lib/promql.libsonnet';

{
  new(c)::
    local lib = libFor.new(c);
    local q = promql.new(c);
    local S = 'job=~"$job", tenant=~"$tenant"';
    local ratio = 'job_tenant:securescore_score:ratio{%s}' % S;
    local up = 'job_tenant:securescore_up:max{%s}' % S;
    // A count that is 0 when tenants exist and none match, and no data when nothing is
    // exported at all (the exporter down for longer than the gap tolerance): never green zeros.
    local count(expr) = 'count(%s) or (0 * count(%s))' % [expr, up];
    // Raw series per tenant, newest sample within a day (live or backfilled), optionally a
    // window earlier: the change columns read backfilled days.
    local daily(metric, offset='') = 'max by (%s) (last_over_time(%s{%s}[1d]%s))' % [q.by, metric, S, if offset == '' then '' else ' offset ' + offset];
    local dailyRatio(offset='') = '%s / (%s > 0)' % [daily('securescore_current_points', offset), daily('securescore_max_points', offset)];
    // A band count per day: 0 (not a gap) on days when tenants had scores and none was in it.
    local dailyCount(expr) = 'count(%s) or (0 * count(%s))' % [expr, dailyRatio()];
    local change(window) = '%s - %s' % [daily('securescore_current_points'), daily('securescore_current_points', window)];
    local pct(r) = '%d %%' % std.floor(r * 100 + 0.5);
    local concern = '%g' % c.concernRatio;
    local excellent = '%g' % c.excellentRatio;
    local rows = lib.tableHeight(c.wallRows);
    local tenantColumn = lib.column('Tenant', links=lib.tenantLink);
    local scoreColumn = lib.column('Score', unit='percentunit', decimals=1, thresholds=lib.bands, cell='color-background');
    local lossSteps = lib.steps([['text', null], ['red', 1e-9]]);
    local changeSteps = lib.steps([['red', null], ['text', 0], ['green', 1e-9]]);
    local hidden = { Time: true, job: false, __name__: true, instance: true };

    lib.dashboard(
      'fleet',
      'Secure Score — fleet overview',
      "Every monitored Microsoft 365 tenant's Secure Score at a glance: bands, the distribution, the lowest scores and biggest falls, refresh health.",
      [
        lib.stat(1, 'Tenants', [0, 0, 3, 5], 'count(%s)' % up, 'Tenants the exporter monitors, with or without a score.'),
        lib.stat(2, 'Fleet average', [3, 0, 4, 5], 'avg(%s)' % ratio, 'Average score ratio (current / achievable points) of the tenants that have a score.',
                 unit='percentunit', thresholds=lib.bands, colorMode='background'),
        lib.stat(3, 'Concern (≤ %s)' % pct(c.concernRatio), [7, 0, 4, 5], count('%s <= %s' % [ratio, concern]),
                 'Tenants at or below %s (inclusive): a cause for concern.' % pct(c.concernRatio),
                 thresholds=lib.steps([['green', null], [c.colours.concern, 1]])),
        lib.stat(4, 'Good (%s–%s)' % [pct(c.concernRatio), pct(c.excellentRatio)], [11, 0, 4, 5], count('%s > %s < %s' % [ratio, concern, excellent]),
                 'Tenants above %s and below %s: a sound target.' % [pct(c.concernRatio), pct(c.excellentRatio)],
                 thresholds=lib.steps([[c.colours.good, null]])),
        lib.stat(5, 'Excellent (≥ %s)' % pct(c.excellentRatio), [15, 0, 3, 5], count('%s >= %s' % [ratio, excellent]),
                 'Tenants at or above %s.' % pct(c.excellentRatio), thresholds=lib.steps([[c.colours.excellent, null]])),
        lib.stat(6, 'No score yet', [18, 0, 3, 5], count('%s unless on (%s) %s' % [up, q.by, ratio]),
                 'Tenants Graph has no Secure Score record for (new tenants have none for 2-4 days).'),
        lib.stat(7, 'Refresh failing', [21, 0, 3, 5], count('%s == 0' % up),
                 'Tenants whose last refresh from Microsoft Graph failed (the exporter serves their last good values). The exporter board lists them.',
                 thresholds=lib.steps([['green', null], ['red', 1]])),

        lib.panel(8, 'histogram', 'Score distribution', [0, 5, 12, 9], [lib.target(ratio, legend='{{tenant}}', instant=true)],
                  'How many tenants score how much, in steps of 5 %. The concern band is red.',
                  unit='percentunit', thresholds=lib.bands, min=0, max=1,
                  field={ color: { mode: 'thresholds' }, custom: { fillOpacity: 80, lineWidth: 1, gradientMode: 'scheme' } },
                  options={ bucketSize: 0.05, bucketOffset: 0, combine: true, legend: { displayMode: 'list', placement: 'bottom', showLegend: false } }),
        lib.timeseries(9, 'Tenants per band', [12, 5, 12, 9], [
          lib.target(dailyCount('%s <= %s' % [dailyRatio(), concern]), 'A', 'concern'),
          lib.target(dailyCount('%s > %s < %s' % [dailyRatio(), concern, excellent]), 'B', 'good'),
          lib.target(dailyCount('%s >= %s' % [dailyRatio(), excellent]), 'C', 'excellent'),
        ], 'Tenants in each band per day, from the kept daily snapshots (backfilled days included).', legendRight=false)
        + { interval: '1d', fieldConfig+: { overrides: [
          { matcher: { id: 'byName', options: b[0] }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: b[1] } }] }
          for b in [['concern', c.colours.concern], ['good', c.colours.good], ['excellent', c.colours.excellent]]
        ] } },

        lib.table(10, 'Lowest scores', [0, 14, 12, rows], [
          lib.target('max by (%s) (bottomk(%d, %s))' % [q.by, c.wallRows, ratio], 'A', instant=true, table=true),
          lib.target('max by (%s) (job_tenant:securescore_current_points:max{%s})' % [q.by, S], 'B', instant=true, table=true),
          lib.target('max by (%s) (job_tenant:securescore_max_points:max{%s})' % [q.by, S], 'C', instant=true, table=true),
          lib.target(change('7d'), 'D', instant=true, table=true),
        ], 'The %d tenants with the lowest score ratio. Click a tenant for its board.' % c.wallRows,
          { excludeByName: hidden, indexByName: { tenant: 0, 'Value #A': 1, 'Value #B': 2, 'Value #C': 3, 'Value #D': 4, job: 5 },
            renameByName: { tenant: 'Tenant', 'Value #A': 'Score', 'Value #B': 'Points', 'Value #C': 'Achievable', 'Value #D': 'Points change 7 d', job: 'Job' } },
          ['Score', false],
          overrides=[tenantColumn, scoreColumn, lib.column('Points change 7 d', decimals=2, thresholds=changeSteps, cell='color-text')],
          filterNull='Value #A'),
        lib.table(11, 'Biggest falls (7 d)', [12, 14, 12, rows], [
          lib.target('topk(%d, %s - %s > 0)' % [c.wallRows, daily('securescore_current_points', '7d'), daily('securescore_current_points')], 'A', instant=true, table=true),
          lib.target('max by (%s) (%s)' % [q.by, ratio], 'B', instant=true, table=true),
        ], 'The %d tenants that lost the most points over the last 7 days (from the daily snapshots, backfilled days included).' % c.wallRows,
          { excludeByName: hidden, indexByName: { tenant: 0, 'Value #A': 1, 'Value #B': 2, job: 3 },
            renameByName: { tenant: 'Tenant', 'Value #A': 'Points lost', 'Value #B': 'Score', job: 'Job' } },
          ['Points lost', true],
          overrides=[tenantColumn, scoreColumn, lib.column('Points lost', decimals=2, thresholds=lossSteps, cell='color-text')],
          filterNull='Value #A'),

        lib.table(12, 'All tenants', [0, 14 + rows, 24, 16], [
          lib.target('max by (%s) (%s)' % [q.by, ratio], 'A', instant=true, table=true),
          lib.target('max by (%s) (job_tenant:securescore_current_points:max{%s})' % [q.by, S], 'B', instant=true, table=true),
          lib.target('max by (%s) (job_tenant:securescore_max_points:max{%s})' % [q.by, S], 'C', instant=true, table=true),
        ] + [
          lib.target(change(c.changeWindows[i]), std.char(std.codepoint('D') + i), instant=true, table=true)
          for i in std.range(0, std.length(c.changeWindows) - 1)
        ] + [
          lib.target('max by (%s) (%s - job_tenant:securescore_peer_total_seats:ratio{%s})' % [q.by, ratio, S], 'G', instant=true, table=true),
          lib.target('max by (%s) (time() - job_tenant:securescore_snapshot_timestamp_seconds:max{%s})' % [q.by, S], 'H', instant=true, table=true),
          lib.target('max by (%s) (%s)' % [q.by, up], 'I', instant=true, table=true),
        ], 'One row per tenant: score, points, points gained or lost over %s (daily snapshots, backfilled days included), distance to similar-size organisations (Graph TotalSeats), age of the newest snapshot, refresh state. Click a column to sort, a tenant for its board.' % std.join(', ', c.changeWindows),
          { excludeByName: hidden,
            indexByName: { tenant: 0, 'Value #A': 1, 'Value #B': 2, 'Value #C': 3, 'Value #D': 4, 'Value #E': 5, 'Value #F': 6, 'Value #G': 7, 'Value #H': 8, 'Value #I': 9, job: 10 },
            renameByName: { tenant: 'Tenant', 'Value #A': 'Score', 'Value #B': 'Points', 'Value #C': 'Achievable' }
                          + { ['Value #' + std.char(std.codepoint('D') + i)]: 'Points change %s' % c.changeWindows[i] for i in std.range(0, std.length(c.changeWindows) - 1) }
                          + { 'Value #G': 'vs similar-size peers', 'Value #H': 'Snapshot age', 'Value #I': 'Refresh', job: 'Job' } },
          ['Score', false],
          overrides=[
            tenantColumn,
            scoreColumn,
            lib.column('vs similar-size peers', unit='percentunit', decimals=1, thresholds=changeSteps, cell='color-text'),
            lib.column('Snapshot age', unit='s', thresholds=lib.steps([['text', null], ['red', c.staleSeconds]]), cell='color-text'),
            lib.column('Refresh', mappings=lib.upMappings, cell='color-text'),
          ] + [
            lib.column('Points change %s' % w, decimals=2, thresholds=changeSteps, cell='color-text')
            for w in c.changeWindows
          ]),

        lib.timeseries(13, 'Fleet average over time', [0, 30 + rows, 12, 8], [
          lib.target('avg(%s)' % dailyRatio(), 'A', 'fleet average'),
          lib.target('avg(max by (%s) (last_over_time(securescore_peer_average_ratio{%s, basis="total_seats"}[1d])))' % [q.by, S], 'B', 'similar-size peers (average)'),
        ], 'Average score ratio of the fleet per day, against the average of Graph\'s similar-size peer figures.',
          unit='percentunit', min=0, max=1, thresholds=lib.bands, legendRight=false) + { interval: '1d' },
        lib.panel(14, 'bargauge', 'Categories across the fleet', [12, 30 + rows, 12, 8],
                  [lib.target('avg by (category) (job_tenant_category:securescore_category:ratio{%s})' % S, legend='{{category}}', instant=true)],
                  'Average share of achievable points per category over the fleet: where most customers have work left.',
                  unit='percentunit', thresholds=lib.bands, min=0, max=1,
                  options={ orientation: 'horizontal', displayMode: 'gradient', showUnfilled: true, valueMode: 'color', reduceOptions: lib.reduce, minVizHeight: 10, minVizWidth: 0, namePlacement: 'auto', sizing: 'auto' }),
      ],
      [lib.datasourceVar, lib.jobVar, lib.queryVar('tenant', 'Tenant', 'label_values(job_tenant:securescore_up:max{job=~"$job"}, tenant)')],
    ),
}
