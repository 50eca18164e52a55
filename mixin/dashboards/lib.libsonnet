// Plain-jsonnet builders for the Grafana JSON model (no grafonnet: the mixin has no
// dependencies). Every panel gets an explicit, stable `id`, every query the ${datasource}
// variable, and every band threshold comes from _config.
{
  new(c):: {
    local lib = self,
    ds:: { type: 'prometheus', uid: '${datasource}' },

    // Grafana colours a value by the highest step at or below it; a step exactly at the concern
    // ratio would call that ratio "good". The band is inclusive, so the step sits just above.
    bands:: {
      mode: 'absolute',
      steps: [
        { color: c.colours.concern, value: null },
        { color: c.colours.good, value: c.concernRatio + 1e-9 },
        { color: c.colours.excellent, value: c.excellentRatio },
      ],
    },
    steps(list):: { mode: 'absolute', steps: [{ color: s[0], value: s[1] } for s in list] },

    target(expr, ref='A', legend='', instant=false, table=false)::
      { datasource: lib.ds, refId: ref, expr: expr, legendFormat: if legend == '' then '__auto' else legend }
      + (if instant then { instant: true, range: false } else {})
      + (if table then { format: 'table' } else {}),

    panel(id, kind, title, grid, targets, description, unit=null, thresholds=null, options={}, field={}, overrides=[], transformations=null, min=null, max=null, noValue=null)::
      {
        id: id,
        type: kind,
        title: title,
        description: description,
        datasource: lib.ds,
        gridPos: { x: grid[0], y: grid[1], w: grid[2], h: grid[3] },
        targets: targets,
        fieldConfig: {
          defaults: (if unit != null then { unit: unit } else {})
                    + (if thresholds != null then { thresholds: thresholds, color: { mode: 'thresholds' } } else {})
                    + (if min != null then { min: min } else {})
                    + (if max != null then { max: max } else {})
                    + (if noValue != null then { noValue: noValue } else {})
                    + field,
          overrides: overrides,
        },
        options: options,
      } + (if transformations != null then { transformations: transformations } else {}),

    reduce:: { calcs: ['lastNotNull'], fields: '', values: false },

    stat(id, title, grid, expr, description, unit=null, thresholds=null, colorMode='value', legend='', valueSize=null, noValue=null)::
      lib.panel(id, 'stat', title, grid, [lib.target(expr, legend=legend, instant=true)], description,
                unit=unit, noValue=noValue,
                thresholds=if thresholds == null then lib.steps([['blue', null]]) else thresholds,
                options={
                  reduceOptions: lib.reduce,
                  colorMode: colorMode,
                  graphMode: 'none',
                  textMode: 'auto',
                  justifyMode: 'auto',
                  orientation: 'auto',
                } + (if valueSize != null then { text: { valueSize: valueSize } } else {})),

    timeseries(id, title, grid, targets, description, unit=null, min=null, max=null, thresholds=null, legendRight=true)::
      lib.panel(id, 'timeseries', title, grid, targets, description, unit=unit, min=min, max=max, thresholds=thresholds,
                field={
                  custom: {
                    lineWidth: 2,
                    fillOpacity: 0,
                    showPoints: 'never',
                    spanNulls: true,
                    stacking: { mode: 'none', group: 'A' },
                  } + (if thresholds != null then { thresholdsStyle: { mode: 'dashed' } } else {}),
                },
                options={
                  legend: { displayMode: 'table', placement: if legendRight then 'right' else 'bottom', calcs: ['lastNotNull'], showLegend: true },
                  tooltip: { mode: 'multi', sort: 'desc' },
                }),

    // A table whose targets are instant, table-format queries merged on their labels; every
    // target must aggregate (max by ...) so no row keeps __name__ and rows join per tenant.
    table(id, title, grid, targets, description, organize, sortBy, overrides=[], filterNull=null)::
      lib.panel(id, 'table', title, grid, targets, description, overrides=overrides,
                transformations=[{ id: 'merge', options: {} }]
                                + (if filterNull != null then [{ id: 'filterByValue', options: { filters: [{ fieldName: filterNull, config: { id: 'isNull', options: {} } }], type: 'exclude', match: 'any' } }] else [])
                                + [
                                  { id: 'organize', options: organize },
                                  { id: 'sortBy', options: { sort: [{ field: sortBy[0], desc: sortBy[1] }] } },
                                ],
                options={ showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '', countRows: false } }),

    // The grid height that shows `rows` table rows of cellHeight sm without scrolling.
    tableHeight(rows):: std.ceil((rows + 1) * 36 / 38) + 2,

    // A column override: unit, decimals, colours.
    column(name, unit=null, decimals=null, thresholds=null, cell=null, links=null, mappings=null, width=null)::
      {
        matcher: { id: 'byName', options: name },
        properties: (if unit != null then [{ id: 'unit', value: unit }] else [])
                    + (if decimals != null then [{ id: 'decimals', value: decimals }] else [])
                    + (if thresholds != null then [{ id: 'thresholds', value: thresholds }] else [])
                    + (if cell != null then [{ id: 'custom.cellOptions', value: { type: cell } + (if cell == 'color-background' then { mode: 'basic' } else {}) }] else [])
                    + (if links != null then [{ id: 'links', value: links }] else [])
                    + (if mappings != null then [{ id: 'mappings', value: mappings }] else [])
                    + (if width != null then [{ id: 'custom.width', value: width }] else []),
      },

    // The data link from a tenant cell to the tenant board, keeping the time range.
    tenantLink:: [{
      title: 'Open the tenant board',
      url: '/d/%stenant/secure-score-tenant?var-datasource=${datasource}&var-job=${__data.fields.job}&var-tenant=${__value.raw}&${__url_time_range}' % c.dashboardUidPrefix,
    }],

    upMappings:: [{ type: 'value', options: { '0': { text: 'failing', color: 'red' }, '1': { text: 'ok', color: 'green' } } }],

    datasourceVar:: {
      name: 'datasource',
      label: 'Data source',
      type: 'datasource',
      query: 'prometheus',
      current: { selected: false, text: 'default', value: 'default' },
      hide: 0,
      refresh: 1,
      regex: '',
      options: [],
    },
    queryVar(name, label, query, multi=true, includeAll=true)::
      {
        name: name,
        label: label,
        type: 'query',
        datasource: lib.ds,
        query: { query: query, refId: name + '-var' },
        refresh: 2,
        sort: 1,
        multi: multi,
        includeAll: includeAll,
        hide: 0,
        regex: '',
        options: [],
      } + (if includeAll then { allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] } } else {}),
    jobVar:: lib.queryVar('job', 'Job', 'label_values(job_tenant:securescore_up:max, job)'),

    dashboard(uid, title, description, panels, variables, from='now-30d')::
      {
        uid: c.dashboardUidPrefix + uid,
        title: title,
        description: description,
        tags: c.dashboardTags,
        timezone: 'browser',
        editable: true,
        graphTooltip: 1,
        schemaVersion: 39,
        version: 1,
        refresh: c.dashboardRefresh,
        time: { from: from, to: 'now' },
        timepicker: { refresh_intervals: ['5m', '15m', '30m', '1h', '6h'] },
        annotations: { list: [] },
        links: [{
          title: 'Secure Score dashboards',
          type: 'dashboards',
          tags: [c.dashboardTags[0]],
          asDropdown: true,
          includeVars: true,
          keepTime: true,
          icon: 'external link',
          targetBlank: false,
          tooltip: '',
          url: '',
        }],
        templating: { list: variables },
        panels: panels,
      },
  },
}
