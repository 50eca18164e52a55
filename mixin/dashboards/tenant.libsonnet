// The tenant board: one tenant's score against the bands and its peers, categories, the next
// actions worth doing and what changed. Change panels read the daily snapshots, so backfilled
// history shows from day one.
local libFor = import 'lib.libsonnet';
local promql = import '../lib/promql.libsonnet';

{
  new(c)::
    local lib = libFor.new(c);
    local q = promql.new(c);
    local T = 'job=~"$job", tenant="$tenant"';
    local ratio = 'job_tenant:securescore_score:ratio{%s}' % T;
    local perControl(metric, extra='') = 'max by (%s, control) (%s{%s%s})' % [q.by, metric, T, extra];
    local dailyControl(offset='') = 'max by (%s, control) (last_over_time(securescore_control_points{%s}[1d]%s))' % [q.by, T, if offset == '' then '' else ' offset ' + offset];
    local daily(metric) = 'max by (%s) (last_over_time(%s{%s}[1d]))' % [q.by, metric, T];
    // Info labels of each control, one set per control even when replicas disagree.
    // The newest within a day, so the boards read backfilled days too.
    local info(labels, extra='') = 'topk by (%s, control) (1, max by (%s, control, %s) (last_over_time(securescore_control_info{%s%s}[1d])))' % [q.by, q.by, labels, T, extra];
    // Points per day over the last 30 days, from the daily snapshots.
    local slope = 'deriv(max by (%s) (securescore_current_points{%s})[30d:1d]) * 86400' % [q.by, T];
    local nextBand(target, when) = '((%s * %g - %s) / (%s > 0) > 0) and on (%s) (%s)' % [
      daily('securescore_max_points'), target, daily('securescore_current_points'), slope, q.by, when,
    ];
    local pct(r) = '%d %%' % std.floor(r * 100 + 0.5);
    local hidden = { Time: true, job: true, tenant: true, instance: true, __name__: true };

    lib.dashboard(
      'tenant',
      'Secure Score — tenant',
      'One tenant: score against Microsoft\'s bands and its peers, categories, the most valuable next actions, and what changed.',
      [
        lib.stat(1, 'Secure Score', [0, 0, 6, 8], ratio,
                 'Current points / achievable points. Red: %s or less (concern, inclusive); orange: up to %s (a sound target); green: %s or more (excellent).' % [pct(c.concernRatio), pct(c.excellentRatio), pct(c.excellentRatio)],
                 unit='percentunit', thresholds=lib.bands, colorMode='background', valueSize=64),
        lib.stat(2, 'Points', [6, 0, 3, 4], 'job_tenant:securescore_current_points:max{%s}' % T, 'Points achieved (Graph currentScore).'),
        lib.stat(3, 'Achievable', [9, 0, 3, 4], 'job_tenant:securescore_max_points:max{%s}' % T, 'Points achievable (Graph maxScore); Microsoft changes it when recommendations are added or retired.'),
        lib.stat(4, 'Points available', [6, 4, 3, 4], 'job_tenant:securescore_max_points:max{%s} - job_tenant:securescore_current_points:max{%s}' % [T, T],
                 'Points still to gain: achievable minus achieved.', thresholds=lib.steps([['orange', null]])),
        lib.stat(5, 'Days to the next band', [9, 4, 3, 4],
                 '(%s) or (%s)' % [
                   nextBand(c.concernRatio, '%s <= %g' % [ratio, c.concernRatio]),
                   nextBand(c.excellentRatio, '%s > %g < %g' % [ratio, c.concernRatio, c.excellentRatio]),
                 ],
                 'At the last 30 days\' pace (points per day from the daily snapshots), days until the score reaches the next band: above %s from concern, %s from good. Empty when the trend is flat or falling (not on track) or the tenant is excellent already.' % [pct(c.concernRatio), pct(c.excellentRatio)],
                 unit='d', noValue='not on track'),
        lib.stat(6, 'Points lost by controls (7 d)', [12, 0, 4, 4],
                 'sum(clamp_min(%s - %s, 0))' % [dailyControl('7d'), dailyControl()],
                 'Points lost by the controls that regressed over the last 7 days (daily snapshots, backfilled days included); 0 when none did.',
                 thresholds=lib.steps([['green', null], ['red', 1e-9]])),
        lib.stat(7, 'Snapshot age', [12, 4, 4, 4], 'time() - job_tenant:securescore_snapshot_timestamp_seconds:max{%s}' % T,
                 'Age of the newest daily snapshot Graph returned.', unit='s',
                 thresholds=lib.steps([['green', null], ['red', c.staleSeconds]])),
        lib.panel(8, 'piechart', 'Controls by state', [16, 0, 8, 8],
                  [lib.target('count by (state) (%s)' % info('state'), legend='{{state}}', instant=true)],
                  'Controls by their latest state in the portal: default, ignored (risk accepted), third_party (resolved through a third party), reviewed.',
                  options={ reduceOptions: lib.reduce, pieType: 'donut', legend: { displayMode: 'table', placement: 'right', values: ['value'], showLegend: true }, tooltip: { mode: 'single', sort: 'none' } }),

        lib.timeseries(9, 'Score vs peers', [0, 8, 14, 9], [
          lib.target('%s / (%s > 0)' % [daily('securescore_current_points'), daily('securescore_max_points')], 'A', '{{tenant}}'),
          lib.target('max by (%s) (last_over_time(securescore_peer_average_ratio{%s, basis="all_tenants"}[1d]))' % [q.by, T], 'B', 'all tenants'),
          lib.target('max by (%s) (last_over_time(securescore_peer_average_ratio{%s, basis="total_seats"}[1d]))' % [q.by, T], 'C', 'similar size'),
        ], 'Score ratio per daily snapshot against Graph\'s peer averages (all tenants, and organisations of similar size).',
          unit='percentunit', min=0, max=1, thresholds=lib.bands, legendRight=false) + { interval: '1h' },
        lib.panel(10, 'bargauge', 'Categories (%)', [14, 8, 10, 9],
                  [lib.target('job_tenant_category:securescore_category:ratio{%s}' % T, legend='{{category}}', instant=true)],
                  'Points achieved per category as a share of the category\'s achievable points.',
                  unit='percentunit', thresholds=lib.bands, min=0, max=1,
                  options={ orientation: 'horizontal', displayMode: 'gradient', showUnfilled: true, valueMode: 'color', reduceOptions: lib.reduce, minVizHeight: 10, minVizWidth: 0, namePlacement: 'auto', sizing: 'auto' }),

        lib.panel(11, 'barchart', 'Categories (points)', [0, 17, 10, 8], [
          lib.target('max by (category) (securescore_category_points{%s})' % T, 'A', 'achieved', instant=true, table=true),
          lib.target('max by (category) (securescore_category_max_points{%s})' % T, 'B', 'achievable', instant=true, table=true),
        ], 'Points achieved and achievable per category.',
          transformations=[
            { id: 'merge', options: {} },
            { id: 'organize', options: { excludeByName: hidden, renameByName: { 'Value #A': 'achieved', 'Value #B': 'achievable' } } },
          ],
          options={ orientation: 'horizontal', xField: 'category', showValue: 'auto', stacking: 'none', groupWidth: 0.7, barWidth: 0.9, legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'none' } }),
        lib.table(12, 'Recommended actions', [10, 17, 14, 16], [
          lib.target('(max by (%s, control) (securescore_control_max_points{%s} - securescore_control_points{%s}) > 0)\n* on (%s, control) group_left (title, category, user_impact, implementation_cost, service)\n%s' % [
            q.by, T, T, q.by, info('title, category, user_impact, implementation_cost, service', ', deprecated="false", state!~"ignored|third_party"'),
          ], 'A', instant=true, table=true),
          lib.target(perControl('securescore_control_rank'), 'B', instant=true, table=true),
        ], 'Controls with points still available, most valuable first: points available (max - current), user impact, implementation cost, Microsoft\'s rank. Deprecated controls and those marked risk accepted or resolved through a third party are left out, as on the status pages.',
          { excludeByName: hidden,
            indexByName: { title: 0, category: 1, 'Value #A': 2, user_impact: 3, implementation_cost: 4, 'Value #B': 5, control: 6, service: 7 },
            renameByName: { title: 'Action', category: 'Category', 'Value #A': 'Points available', user_impact: 'User impact', implementation_cost: 'Cost', 'Value #B': 'Rank', control: 'Control', service: 'Service' } },
          ['Points available', true],
          filterNull='Value #A'),
        lib.table(13, 'What changed (7 d)', [0, 25, 10, 8], [
          lib.target('(%s - %s != 0)\n* on (%s, control) group_left (title)\n%s' % [dailyControl(), dailyControl('7d'), q.by, info('title')], 'A', instant=true, table=true),
        ], 'Controls whose points moved over the last 7 days (daily snapshots, backfilled days included), with the change in points.',
          { excludeByName: hidden, renameByName: { title: 'Action', control: 'Control', Value: 'Change (points)', 'Value #A': 'Change (points)' } },
          ['Change (points)', false],
          overrides=[lib.column('Change (points)', decimals=2, thresholds=lib.steps([['red', null], ['green', 0]]), cell='color-text')]),

        lib.table(14, 'Coverage per control', [0, 33, 24, 10], [
          lib.target('(%s - %s)\n* on (%s, control) group_left (title)\n%s' % [perControl('securescore_control_items_in_scope'), perControl('securescore_control_items'), q.by, info('title')], 'A', instant=true, table=true),
          lib.target(perControl('securescore_control_items'), 'B', instant=true, table=true),
          lib.target(perControl('securescore_control_items_in_scope'), 'C', instant=true, table=true),
        ], 'What each control\'s score is made of, where Graph says (controlScores count and total): the items in scope, usually users, devices or policies, those that meet the control, and those that do not yet (e.g. users without MFA). Microsoft does not document the fields; controls without them are not listed.',
          { excludeByName: hidden,
            indexByName: { title: 0, 'Value #A': 1, 'Value #B': 2, 'Value #C': 3, control: 4 },
            renameByName: { title: 'Control', 'Value #A': 'Not yet covered', 'Value #B': 'Covered', 'Value #C': 'In scope', control: 'Id' } },
          ['Not yet covered', true],
          filterNull='Value #A'),
      ],
      [
        lib.datasourceVar,
        lib.jobVar,
        lib.queryVar('tenant', 'Tenant', 'label_values(job_tenant:securescore_up:max{job=~"$job"}, tenant)', multi=false, includeAll=false),
      ],
    ),
}
