// PromQL fragments shared by the rules, the alerts and the dashboards, built from _config so
// that a selector or a label set is spelt once.
{
  new(c):: {
    // "job, tenant": the labels that name one tenant.
    by:: std.join(', ', c.tenantLabels),
    byWith(extra):: std.join(', ', c.tenantLabels + extra),
    sel:: c.exporterSelector,
    // metric{selector} with optional extra matchers.
    m(metric, extra=''):: '%s{%s%s}' % [metric, c.exporterSelector, if extra == '' then '' else ', ' + extra],
    // The newest sample within the gap tolerance, one series per tenant whatever the replicas.
    tenantLast(metric, extra='', labels=[], offset=''):: 'max by (%s) (last_over_time(%s[%s]%s))' % [self.byWith(labels), self.m(metric, extra), c.gapTolerance, if offset == '' then '' else ' offset ' + offset],
    // The value a day earlier (the newest sample of the day before), per tenant. The day-long
    // window also finds `backfill`'s one sample per day, so the rules work from day one.
    tenantDayAgo(metric, labels=[]):: 'max by (%s) (last_over_time(%s[1d] offset 1d))' % [self.byWith(labels), self.m(metric)],
    // The credential label of each tenant, joined onto every per-tenant alert.
    withCredential(expr):: '(\n%s\n)\n* on (%s) group_left (credential) job_tenant:securescore_tenant_info:credential' % [self.indent(std.stripChars(expr, '\n')), self.by],
    // Every line of `text` two spaces further right.
    indent(text):: std.join('\n', ['  ' + l for l in std.split(text, '\n')]),
    // Seconds of a Prometheus duration string such as 10m, 2h, 1d.
    seconds(d)::
      local unit = std.substr(d, std.length(d) - 1, 1);
      local n = std.parseInt(std.substr(d, 0, std.length(d) - 1));
      n * { s: 1, m: 60, h: 3600, d: 86400 }[unit],
  },
}
