#!/usr/bin/env python3
"""Generates the Grafana dashboards (Grafana 10+ JSON model) from one place.

    python3 dashboards/generate.py          # rewrite dashboards/*.json
    python3 dashboards/generate.py --check  # exit 1 if a committed file differs from the generator

Metric names, recording rules and score bands used here match src/core/names.rs, src/core/band.rs and
deploy/prometheus/securescore.rules.yml; tests check that every name a panel uses exists.
"""
import json
import math
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["securescore", "microsoft-365", "security"]
# Microsoft's guidance: <= 65 % concern, 65-80 % a sound target, >= 80 % excellent.
BANDS = {
    "mode": "absolute",
    "steps": [
        {"color": "red", "value": None},
        # Grafana colours a value by the highest step at or below it, so a step at 0.65 would
        # call exactly 65 % "good"; the band is inclusive: 65 % is concern.
        {"color": "orange", "value": math.nextafter(0.65, 1.0)},
        {"color": "green", "value": 0.8},
    ],
}
SEL = 'job=~"$job", tenant=~"$tenant"'


def target(expr, ref="A", legend="", instant=False, table=False):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        t["instant"] = True
        t["range"] = False
    if table:
        t["format"] = "table"
    return t


def panel(kind, title, x, y, w, h, targets, unit=None, description="", thresholds=None,
          options=None, field=None, overrides=None, transformations=None, min_=None, max_=None):
    defaults = {"unit": unit} if unit else {}
    if thresholds:
        defaults["thresholds"] = thresholds
        defaults["color"] = {"mode": "thresholds"}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    if field:
        defaults.update(field)
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        p["transformations"] = transformations
    return p


def stat(title, x, y, w, h, expr, unit=None, description="", thresholds=None, legend="", color_mode="value", text_size=None):
    opts = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": color_mode,
        "graphMode": "none",
        "textMode": "auto",
        "justifyMode": "auto",
        "orientation": "auto",
    }
    if text_size:
        opts["text"] = {"valueSize": text_size}
    return panel("stat", title, x, y, w, h, [target(expr, legend=legend, instant=True)], unit=unit,
                 description=description, thresholds=thresholds or {"mode": "absolute", "steps": [{"color": "blue", "value": None}]},
                 options=opts)


def timeseries(title, x, y, w, h, targets, unit=None, description="", min_=None, max_=None, thresholds=None, stack=False):
    field = {"custom": {"lineWidth": 2, "fillOpacity": 10 if stack else 0, "showPoints": "never",
                        "spanNulls": True, "stacking": {"mode": "normal" if stack else "none", "group": "A"}}}
    if thresholds:
        field["custom"]["thresholdsStyle"] = {"mode": "dashed"}
    return panel("timeseries", title, x, y, w, h, targets, unit=unit, description=description,
                 thresholds=thresholds, min_=min_, max_=max_, field=field,
                 options={"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"], "showLegend": True},
                          "tooltip": {"mode": "multi", "sort": "desc"}})


def datasource_var():
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {"selected": False, "text": "default", "value": "default"}, "hide": 0, "refresh": 1, "regex": "", "options": []}


def query_var(name, label, query, multi=True, include_all=True):
    v = {"name": name, "label": label, "type": "query", "datasource": DS,
         "query": {"query": query, "refId": f"{name}-var"},
         "refresh": 2, "sort": 1, "multi": multi, "includeAll": include_all,
         "hide": 0, "regex": "", "options": []}
    if include_all:
        v["allValue"] = ".*"
        v["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return v


def dashboard(uid, title, description, panels, variables, time_from="now-30d"):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30m",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {"refresh_intervals": ["5m", "15m", "30m", "1h", "6h"]},
        "annotations": {"list": []},
        "links": [
            {"title": "Secure Score dashboards", "type": "dashboards", "tags": ["securescore"], "asDropdown": True,
             "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""}
        ],
        "templating": {"list": variables},
        "panels": panels,
    }


def job_var():
    return query_var("job", "Job", "label_values(securescore_up, job)")


RATIO = "securescore_current_points{%s} / (securescore_max_points{%s} > 0)"


def fleet():
    ratio = "tenant:securescore_score:ratio{%s}" % SEL
    raw_ratio = RATIO % (SEL, SEL)
    raw_ratio_7d = "securescore_current_points{%s} offset 7d / (securescore_max_points{%s} offset 7d > 0)" % (SEL, SEL)
    raw_ratio_30d = "securescore_current_points{%s} offset 30d / (securescore_max_points{%s} offset 30d > 0)" % (SEL, SEL)
    concern = ":securescore_concern_threshold:ratio"
    excellent = ":securescore_excellent_threshold:ratio"
    table_targets = [
        target(ratio, "A", instant=True, table=True),
        target("securescore_current_points{%s}" % SEL, "B", instant=True, table=True),
        target("securescore_max_points{%s}" % SEL, "C", instant=True, table=True),
        target("(%s) - (%s)" % (raw_ratio, raw_ratio_7d), "D", instant=True, table=True),
        target("(%s) - (%s)" % (raw_ratio, raw_ratio_30d), "E", instant=True, table=True),
        target("%s - tenant:securescore_peer_total_seats:ratio{%s}" % (ratio, SEL), "F", instant=True, table=True),
        target("time() - securescore_snapshot_timestamp_seconds{%s}" % SEL, "G", instant=True, table=True),
        target("securescore_up{%s}" % SEL, "H", instant=True, table=True),
    ]
    table = panel(
        "table", "Tenant table", 0, 9, 24, 12, table_targets,
        description="One row per tenant: score, points, change over 7 and 30 days, distance to similar-size organisations (Graph's TotalSeats average), age of Graph's newest snapshot and whether the last refresh worked. Click a column to sort.",
        transformations=[
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "job": True, "instance": True, "__name__": True},
                "indexByName": {"tenant": 0, "Value #A": 1, "Value #B": 2, "Value #C": 3, "Value #D": 4, "Value #E": 5, "Value #F": 6, "Value #G": 7, "Value #H": 8},
                "renameByName": {"tenant": "Tenant", "Value #A": "Score", "Value #B": "Points", "Value #C": "Max points",
                                 "Value #D": "Change 7d", "Value #E": "Change 30d", "Value #F": "vs similar-size peers",
                                 "Value #G": "Snapshot age", "Value #H": "Refresh OK"}}},
            {"id": "sortBy", "options": {"sort": [{"field": "Score", "desc": False}]}},
        ],
        options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False}},
        overrides=[
            {"matcher": {"id": "byName", "options": "Score"}, "properties": [
                {"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 1},
                {"id": "thresholds", "value": BANDS}, {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}}]},
            {"matcher": {"id": "byRegexp", "options": "Change.*|vs similar-size peers"}, "properties": [
                {"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 1},
                {"id": "thresholds", "value": {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "text", "value": 0}]}},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}}]},
            {"matcher": {"id": "byName", "options": "Snapshot age"}, "properties": [
                {"id": "unit", "value": "s"},
                {"id": "thresholds", "value": {"mode": "absolute", "steps": [{"color": "text", "value": None}, {"color": "red", "value": 172800}]}},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}}]},
            {"matcher": {"id": "byName", "options": "Refresh OK"}, "properties": [
                {"id": "mappings", "value": [{"type": "value", "options": {"0": {"text": "failing", "color": "red"}, "1": {"text": "ok", "color": "green"}}}]},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}}]},
        ],
    )
    panels = [
        stat("Tenant count", 0, 0, 4, 5, "count(count by (tenant) (securescore_up{%s}))" % SEL,
             description="Tenants the exporter monitors (including those without a score yet)."),
        stat("Fleet average", 4, 0, 5, 5, "avg(%s)" % ratio, unit="percentunit", thresholds=BANDS,
             description="Average score ratio of the tenants that have a score.", color_mode="background"),
        stat("Concern (≤ 65 %)", 9, 0, 4, 5, "count(%s <= on() group_left() %s) or vector(0)" % (ratio, concern),
             thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}]},
             description="Tenants at or below the concern threshold."),
        stat("Good (65–80 %)", 13, 0, 4, 5, "count((%s > on() group_left() %s) < on() group_left() %s) or vector(0)" % (ratio, concern, excellent),
             thresholds={"mode": "absolute", "steps": [{"color": "orange", "value": None}]},
             description="Tenants in the sound 65-80 % band."),
        stat("Excellent (≥ 80 %)", 17, 0, 4, 5, "count(%s >= on() group_left() %s) or vector(0)" % (ratio, excellent),
             thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}]},
             description="Tenants at or above 80 %."),
        stat("Refresh failing", 21, 0, 3, 5, "count(securescore_up{%s} == 0) or vector(0)" % SEL,
             thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}]},
             description="Tenants whose last refresh from Microsoft Graph failed (values shown are the last good ones)."),
        panel("bargauge", "Bottom 10", 0, 5, 24, 4, [target("bottomk(10, %s)" % ratio, legend="{{tenant}}", instant=True)],
              unit="percentunit", thresholds=BANDS, min_=0, max_=1,
              description="The ten tenants with the lowest score ratio.",
              options={"orientation": "vertical", "displayMode": "gradient", "showUnfilled": True, "valueMode": "color",
                       "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "minVizHeight": 10, "minVizWidth": 0, "namePlacement": "auto", "sizing": "auto"}),
        table,
        timeseries("Score over time", 0, 21, 24, 10, [target(raw_ratio, legend="{{tenant}}")], unit="percentunit",
                   min_=0, max_=1, thresholds=BANDS,
                   description="Every tenant's score ratio (current / max points) per daily Graph snapshot."),
    ]
    return dashboard("securescore-fleet", "Secure Score — fleet overview",
                     "Every monitored Microsoft 365 tenant's Secure Score at a glance: bands, changes, peers and refresh health.",
                     panels, [datasource_var(), job_var(), query_var("tenant", "Tenant", 'label_values(securescore_up{job=~"$job"}, tenant)')])


def tenant():
    t = 'job=~"$job", tenant="$tenant"'
    ratio = "tenant:securescore_score:ratio{%s}" % t
    info = "max by (tenant, control, title, category, user_impact, implementation_cost, state, service) (securescore_control_info{%s})" % t
    available = "(securescore_control_max_points{%s} - securescore_control_points{%s})" % (t, t)
    panels = [
        stat("Secure Score", 0, 0, 6, 8, ratio, unit="percentunit", thresholds=BANDS, color_mode="background", text_size=64,
             description="Current points / achievable points. Red: 65 % or less (concern); orange: 65-80 % (a sound target); green: 80 % or more (excellent)."),
        stat("Points", 6, 0, 3, 4, "securescore_current_points{%s}" % t, description="Points achieved (Graph currentScore)."),
        stat("Achievable", 9, 0, 3, 4, "securescore_max_points{%s}" % t, description="Points achievable (Graph maxScore); Microsoft changes it when recommendations are added or retired."),
        stat("Points available", 6, 4, 3, 4, "tenant:securescore_points_available:sum{%s}" % t,
             thresholds={"mode": "absolute", "steps": [{"color": "orange", "value": None}]},
             description="Points still to gain: achievable minus achieved."),
        stat("Days to 80 %", 9, 4, 3, 4,
             "((securescore_max_points{%s} * on() group_left() :securescore_excellent_threshold:ratio) - securescore_current_points{%s}) / (deriv(securescore_current_points{%s}[30d]) * 86400 > 0)" % (t, t, t),
             unit="d", description="Projection from the last 30 days' trend of points: days until the score reaches the excellent threshold. Empty when the trend is flat or falling, or the target is reached."),
        stat("Points regressed", 12, 0, 4, 4,
             "sum(clamp_min(securescore_control_points{%s} offset $__range - securescore_control_points{%s}, 0)) or vector(0)" % (t, t),
             thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 0.01}]},
             description="Points lost by controls that regressed within the selected time range."),
        stat("Snapshot age", 12, 4, 4, 4, "time() - securescore_snapshot_timestamp_seconds{%s}" % t, unit="s",
             thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 172800}]},
             description="Age of the newest daily snapshot Graph returned."),
        panel("piechart", "Controls by state", 16, 0, 8, 8,
              [target("count by (state) (securescore_control_info{%s})" % t, legend="{{state}}", instant=True)],
              description="Controls by their latest state in the portal: default, ignored (risk accepted), third_party (resolved through third party), reviewed.",
              options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "pieType": "donut",
                       "legend": {"displayMode": "table", "placement": "right", "values": ["value"], "showLegend": True},
                       "tooltip": {"mode": "single", "sort": "none"}}),
        timeseries("Score vs peers", 0, 8, 14, 9, [
            target(RATIO % (t, t), "A", legend="{{tenant}}"),
            target('securescore_peer_average_ratio{%s, basis="all_tenants"}' % t, "B", legend="all tenants"),
            target('securescore_peer_average_ratio{%s, basis="total_seats"}' % t, "C", legend="similar size"),
        ], unit="percentunit", min_=0, max_=1, thresholds=BANDS,
            description="Score ratio against Graph's peer averages (all tenants, and organisations of similar size)."),
        panel("bargauge", "Categories (%)", 14, 8, 10, 9,
              [target("securescore_category_points{%s} / (securescore_category_max_points{%s} > 0)" % (t, t), legend="{{category}}", instant=True)],
              unit="percentunit", thresholds=BANDS, min_=0, max_=1,
              description="Points achieved per category as a share of the category's achievable points.",
              options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True, "valueMode": "color",
                       "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "minVizHeight": 10, "minVizWidth": 0, "namePlacement": "auto", "sizing": "auto"}),
        panel("barchart", "Categories (points)", 0, 17, 10, 8, [
            target("securescore_category_points{%s}" % t, "A", legend="achieved", instant=True, table=True),
            target("securescore_category_max_points{%s}" % t, "B", legend="achievable", instant=True, table=True),
        ], description="Points achieved and achievable per category.",
            transformations=[{"id": "merge", "options": {}},
                             {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True, "instance": True, "tenant": True},
                                                            "renameByName": {"Value #A": "achieved", "Value #B": "achievable"}}}],
            options={"orientation": "horizontal", "xField": "category", "showValue": "auto", "stacking": "none", "groupWidth": 0.7, "barWidth": 0.9,
                     "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}, "tooltip": {"mode": "multi", "sort": "none"}}),
        panel("table", "Recommended actions", 10, 17, 14, 16, [
            target("sort_desc(%s > 0) * on (tenant, control) group_left (title, user_impact, implementation_cost, state, service) %s" % (available, info), "A", instant=True, table=True),
            target("securescore_control_rank{%s}" % t, "B", instant=True, table=True),
        ], description="Controls with points still available, most valuable first: title, category, points available (max - current), user impact, implementation cost, state and Microsoft's rank.",
            transformations=[
                {"id": "merge", "options": {}},
                {"id": "filterByValue", "options": {"filters": [{"fieldName": "Value #A", "config": {"id": "isNull", "options": {}}}], "type": "exclude", "match": "any"}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": True, "job": True, "instance": True, "tenant": True, "control": False},
                    "indexByName": {"title": 0, "category": 1, "Value #A": 2, "user_impact": 3, "implementation_cost": 4, "state": 5, "Value #B": 6, "control": 7, "service": 8},
                    "renameByName": {"title": "Action", "category": "Category", "Value #A": "Points available", "user_impact": "User impact",
                                     "implementation_cost": "Cost", "state": "State", "Value #B": "Rank", "control": "Control", "service": "Service"}}},
                {"id": "sortBy", "options": {"sort": [{"field": "Points available", "desc": True}]}},
            ],
            options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False}}),
        panel("table", "What changed", 0, 25, 10, 8, [
            target("(securescore_control_points{%s} - securescore_control_points{%s} offset $__range != 0) * on (tenant, control) group_left (title) %s" % (t, t, info), "A", instant=True, table=True),
        ], description="Controls whose points moved within the selected time range, with the change.",
            transformations=[
                {"id": "organize", "options": {"excludeByName": {"Time": True, "job": True, "instance": True, "tenant": True},
                                               "renameByName": {"title": "Action", "control": "Control", "category": "Category", "Value": "Change (points)"}}},
                {"id": "sortBy", "options": {"sort": [{"field": "Change (points)", "desc": False}]}},
            ],
            overrides=[{"matcher": {"id": "byName", "options": "Change (points)"}, "properties": [
                {"id": "thresholds", "value": {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 0}]}},
                {"id": "custom.cellOptions", "value": {"type": "color-text"}}]}],
            options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False}}),
        panel("table", "Coverage per control", 0, 33, 24, 10, [
            target("sort_desc((max by (tenant, control) (securescore_control_items_in_scope{%s}) - max by (tenant, control) (securescore_control_items{%s})) * on (tenant, control) group_left (title) max by (tenant, control, title) (securescore_control_info{%s}))" % (t, t, t), "A", instant=True, table=True),
            target("max by (tenant, control) (securescore_control_items{%s})" % t, "B", instant=True, table=True),
            target("max by (tenant, control) (securescore_control_items_in_scope{%s})" % t, "C", instant=True, table=True),
        ], description="What each control's score is made of, where Graph says (controlScores count and total): the items in scope, usually users, devices or policies, those that meet the control, and those that do not yet (e.g. users without MFA). Microsoft does not document the fields; controls without them are not listed.",
            transformations=[
                {"id": "merge", "options": {}},
                {"id": "filterByValue", "options": {"filters": [{"fieldName": "Value #A", "config": {"id": "isNull", "options": {}}}], "type": "exclude", "match": "any"}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": True, "job": True, "instance": True, "tenant": True},
                    "indexByName": {"title": 0, "Value #A": 1, "Value #B": 2, "Value #C": 3, "control": 4},
                    "renameByName": {"title": "Control", "Value #A": "Not yet covered", "Value #B": "Covered", "Value #C": "In scope", "control": "Id"}}},
                {"id": "sortBy", "options": {"sort": [{"field": "Not yet covered", "desc": True}]}},
            ],
            options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False}}),
    ]
    return dashboard("securescore-tenant", "Secure Score — tenant",
                     "One tenant: score against Microsoft's bands and its peers, categories, the most valuable next actions, and what changed.",
                     panels, [datasource_var(), job_var(),
                              query_var("tenant", "Tenant", 'label_values(securescore_up{job=~"$job"}, tenant)', multi=False, include_all=False)])


def exporter():
    j = 'job=~"$job"'
    panels = [
        timeseries("Refreshes", 0, 0, 12, 8, [
            target("sum(increase(securescore_refresh_duration_seconds_count{%s}[$__rate_interval])) - sum(increase(securescore_refresh_failures_total{%s}[$__rate_interval]))" % (j, j), "A", legend="success"),
            target("sum by (reason) (increase(securescore_refresh_failures_total{%s}[$__rate_interval]))" % j, "B", legend="failed: {{reason}}"),
        ], description="Tenant refreshes that succeeded, and failures by reason (auth, throttled, http, transport, timeout, decode, security)."),
        timeseries("Refresh duration", 12, 0, 12, 8, [
            target("histogram_quantile(0.5, sum by (le) (rate(securescore_refresh_duration_seconds_bucket{%s}[$__rate_interval])))" % j, "A", legend="p50"),
            target("histogram_quantile(0.95, sum by (le) (rate(securescore_refresh_duration_seconds_bucket{%s}[$__rate_interval])))" % j, "B", legend="p95"),
        ], unit="s", description="Wall time of one tenant refresh: token, secureScores and every control-profile page."),
        timeseries("Graph requests", 0, 8, 12, 8, [
            target("sum by (endpoint, code) (increase(securescore_graph_requests_total{%s}[$__rate_interval]))" % j, legend="{{endpoint}} {{code}}"),
        ], description="Requests to Entra ID (token) and Microsoft Graph by endpoint and HTTP status."),
        timeseries("Throttling and partial answers", 12, 8, 12, 8, [
            target('sum by (endpoint) (increase(securescore_graph_requests_total{%s, code="429"}[$__rate_interval]))' % j, "A", legend="429 {{endpoint}}"),
            target("sum by (endpoint) (increase(securescore_graph_partial_responses_total{%s}[$__rate_interval]))" % j, "B", legend="206 {{endpoint}}"),
        ], description="Throttled requests (Graph allows 150 per minute and 4 concurrent per tenant) and 206 Partial Content answers."),
        panel("bargauge", "Snapshot age per tenant", 0, 16, 12, 9,
              [target("time() - securescore_snapshot_timestamp_seconds{%s}" % j, legend="{{tenant}}", instant=True)],
              unit="s", thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 129600}, {"color": "red", "value": 172800}]},
              description="Age of each tenant's newest Graph snapshot. Graph publishes one a day; beyond 48 h SecureScoreDataStale fires.",
              options={"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True, "valueMode": "color",
                       "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "minVizHeight": 10, "minVizWidth": 0, "namePlacement": "auto", "sizing": "auto"}),
        panel("state-timeline", "Refresh state per tenant", 12, 16, 12, 9,
              [target("securescore_up{%s}" % j, legend="{{tenant}}")],
              description="1 when the most recent refresh of the tenant succeeded.",
              field={"mappings": [{"type": "value", "options": {"0": {"text": "failing", "color": "red"}, "1": {"text": "ok", "color": "green"}}}]},
              options={"showValue": "never", "mergeValues": True, "alignValue": "left", "rowHeight": 0.9,
                       "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False}, "tooltip": {"mode": "single", "sort": "none"}}),
        panel("bargauge", "Certificate credentials: days left", 0, 32, 24, 5,
              [target("(securescore_credential_expiry_timestamp_seconds{%s} - time()) / 86400" % j, legend="{{credential}}", instant=True)],
              unit="d", thresholds={"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "orange", "value": 14}, {"color": "green", "value": 30}]},
              description="Days until each certificate credential expires (SecureScoreCredentialExpiring fires under 14). Empty when no certificate credential is configured.",
              options={"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True, "valueMode": "color",
                       "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "minVizHeight": 10, "minVizWidth": 0, "namePlacement": "auto", "sizing": "auto"}),
        timeseries("CPU", 0, 25, 12, 7, [target("rate(process_cpu_seconds_total{%s}[$__rate_interval])" % j, legend="{{instance}}")],
                   unit="percentunit", description="CPU used by the exporter process (1.0 = one core)."),
        timeseries("Memory", 12, 25, 12, 7, [target("process_resident_memory_bytes{%s}" % j, legend="{{instance}}")],
                   unit="bytes", description="Resident memory of the exporter process."),
    ]
    return dashboard("securescore-exporter", "Secure Score — exporter health",
                     "Is securescore_exporter healthy: refreshes, durations, Graph requests, throttling, data age, process resources.",
                     panels, [datasource_var(), job_var()], time_from="now-24h")


DASHBOARDS = {
    "securescore-fleet.json": fleet,
    "securescore-tenant.json": tenant,
    "securescore-exporter.json": exporter,
}


def render(fn):
    return json.dumps(fn(), indent=2, ensure_ascii=False) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, fn in DASHBOARDS.items():
        path = HERE / name
        text = render(fn)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python3 dashboards/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
