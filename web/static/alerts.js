/*
 * The alerts panel of the forecast page (docs/api.md §11): GET /api/v1/alerts, newest first, filtered
 * by kind and by series (group, a JSON object), a page at a time ("More alerts" follows next_cursor).
 * Each alert names its series: a grouped job's series opens in the series panel when that job is on
 * screen (series_table.js), the total goes to the chart; otherwise the key is shown as text, with a
 * link to the job that raised it.
 *
 * The calls go through window.SalesForecast (dashboard.js), so they carry the API key the rest of the
 * page uses. Server text goes in through textContent only.
 */
(function () {
  "use strict";

  var SF = null;
  var state = { kind: "", group: null, cursor: null, asked: 0, shown: 0 };
  var KINDS = { below_range: "below the range", above_range: "above the range", forecast_drop: "forecast drop" };

  function $(id) { return document.getElementById(id); }
  function status(text) { $("alerts-status").textContent = text; }

  function groupError(text) {
    var box = $("alerts-group-error");
    box.textContent = text || "";
    SF.show(box, !!text);
    if (text) $("alerts-group").setAttribute("aria-invalid", "true");
    else $("alerts-group").removeAttribute("aria-invalid");
  }

  /** The group filter: {} for none, {value: "<compact JSON>"} or {error}. */
  function parseGroup() {
    var text = $("alerts-group").value.trim();
    if (!text) return {};
    var value;
    try { value = JSON.parse(text); } catch (e) { return { error: "Not JSON: " + e.message }; }
    if (!SF.isObject(value)) return { error: "A JSON object of group fields, such as {\"category\": \"Shoes\"}; {} is the total." };
    var bad = Object.keys(value).filter(function (k) {
      var v = value[k];
      return v !== null && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean";
    });
    if (bad.length) return { error: "“" + bad[0] + "”: a group's value is text, a number or null." };
    return { value: JSON.stringify(value) };
  }

  function url() {
    var params = new URLSearchParams();
    if (state.kind) params.set("kind", state.kind);
    if (state.group !== null) params.set("group", state.group);
    params.set("limit", "25");
    if (state.cursor) params.set("cursor", state.cursor);
    return $("alerts").getAttribute("data-alerts-api") + "?" + params.toString();
  }

  function keyText(series) {
    var fields = SF.isObject(series) ? Object.keys(series) : [];
    if (!fields.length) return "the total";
    return fields.map(function (f) { return f + " " + (series[f] === null ? "null" : String(series[f])); }).join(" › ");
  }

  /** What an alert says, in a line: the actual against its range, or the outlook's fall. */
  function what(alert) {
    if (alert.kind === "forecast_drop") {
      return "outlook " + SF.signedPct(alert.change_pct) + " (vs a year before, or the latest periods)";
    }
    return "actual " + SF.fmt(alert.actual) + ", range " + SF.fmt(alert.low) + " – " + SF.fmt(alert.high) +
      (typeof alert.level === "number" ? " (" + SF.levelPct(alert.level) + ")" : "");
  }

  /** The series cell: a button that shows it when its job is on screen, else its key as text. */
  function seriesCell(alert) {
    var series = SF.isObject(alert.series) ? alert.series : {};
    var label = keyText(series);
    var onScreen = alert.task_id && SF.currentTask() === alert.task_id && !$("results").hidden;
    var grouped = Object.keys(series).length > 0;
    var seriesOpen = window.SalesForecastSeries && window.SalesForecastSeries.isOpen(alert.task_id);
    if (onScreen && (!grouped || seriesOpen)) {
      var button = SF.el("button", { type: "button", "class": "link alert-series", "data-series": JSON.stringify(series),
                                     "data-task-id": alert.task_id }, label);
      button.setAttribute("aria-label", "Show " + label + " of this job");
      return SF.el("td", null, button);
    }
    return SF.el("td", null, SF.el("span", { "class": "alert-key" }, label));
  }

  function row(alert) {
    var kind = String(alert.kind || "");
    var taskId = String(alert.task_id || "");
    var link = SF.el("a", { href: "/?task=" + encodeURIComponent(taskId), title: taskId },
      SF.el("code", { "class": "task-id" }, taskId.slice(0, 8)));
    link.setAttribute("aria-label", "Open job " + taskId);
    return SF.el("tr", { "class": "alert alert-" + kind, "data-kind": kind, "data-alert-id": alert.id },
      SF.el("td", null, alert.created_at ? new Date(alert.created_at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "—"),
      seriesCell(alert),
      SF.el("td", null, SF.el("span", { "class": "state state-" + kind }, KINDS[kind] || kind)),
      SF.el("td", null, String(alert.period || "—") + (alert.frequency && alert.frequency !== "month" ? " (" + alert.frequency + ")" : "")),
      SF.el("td", null, what(alert) + (alert.measure && alert.measure !== "revenue" ? " · " + alert.measure : "")),
      SF.el("td", null, link));
  }

  /** Load the first page (more=false) or the next one (more=true) of the current filters. */
  function load(more) {
    SF = window.SalesForecast;
    if (!SF) return;
    var typed = $("api-key") && $("api-key").value.trim();
    if (document.body.getAttribute("data-auth-required") === "true" && !SF.savedKey() && !typed) {
      // No call without a key: it could only be refused. The panel loads once a job finishes.
      status("Enter the API key in the form above, then show the alerts.");
      return;
    }
    if (!more) state.cursor = null;
    var asked = ++state.asked;
    var tbody = $("alerts-table").tBodies[0];
    $("alerts-table").setAttribute("aria-busy", "true");
    status(more ? "Loading more alerts…" : "Loading the alerts…");
    SF.call("GET", url()).then(function (result) {
      if (asked !== state.asked) return; // a newer query since
      $("alerts-table").setAttribute("aria-busy", "false");
      var page = result.data;
      if (result.status !== 200 || !SF.isObject(page) || !Array.isArray(page.alerts)) {
        if (result.status === 422 && page && page.error && page.error.field === "group") groupError(page.error.message);
        status(result.status === 401 ? "Enter the API key in the form above, then show the alerts."
                                     : "The alerts are unavailable: " + SF.errorText(result));
        return;
      }
      if (!more) { SF.clear(tbody); state.shown = 0; }
      var alerts = page.alerts.filter(SF.isObject);
      alerts.forEach(function (alert) { SF.append(tbody, row(alert)); });
      state.shown += alerts.length;
      state.cursor = typeof page.next_cursor === "string" ? page.next_cursor : null;
      SF.show($("alerts-more"), !!state.cursor);
      if (!state.shown) {
        SF.append(tbody, SF.el("tr", null, SF.el("td", { colspan: 6, "class": "empty" }, "No alerts.")));
      }
      status(state.shown ? state.shown + (state.shown === 1 ? " alert" : " alerts") + (state.cursor ? ", more below." : ".")
                         : "No alerts" + (state.kind || state.group !== null ? " match these filters." : " yet."));
    }, function () {
      if (asked !== state.asked) return;
      $("alerts-table").setAttribute("aria-busy", "false");
      status("The alerts could not be loaded (network error).");
    });
  }

  function apply(event) {
    if (event) event.preventDefault();
    SF = window.SalesForecast;
    var group = parseGroup();
    if (group.error) {
      groupError(group.error);
      $("alerts-group").focus();
      status("The alerts were not filtered.");
      return;
    }
    groupError("");
    state.kind = $("alerts-kind").value;
    state.group = group.value === undefined ? null : group.value;
    load(false);
  }

  function openSeries(button) {
    var series = JSON.parse(button.getAttribute("data-series") || "{}");
    var taskId = button.getAttribute("data-task-id");
    if (!Object.keys(series).length) { // the total: its chart is at the top of the results
      var title = $("results-title");
      title.scrollIntoView();
      title.focus();
      return;
    }
    window.SalesForecastSeries.show(taskId, series).then(function (shown) {
      if (!shown) status("That series is not in this job's series any more.");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!$("alerts")) return;
    $("alerts-controls").addEventListener("submit", apply);
    $("alerts-kind").addEventListener("change", function () { apply(null); });
    $("alerts-more").addEventListener("click", function () { if (state.cursor) load(true); });
    $("alerts-table").tBodies[0].addEventListener("click", function (event) {
      var button = event.target.closest("button.alert-series");
      if (button) openSeries(button);
    });
    // A finished job may have raised alerts, and puts its series on screen: list them again.
    document.addEventListener("forecast:shown", function () { load(false); });
    setTimeout(function () { load(false); }, 0); // after dashboard.js has lent its helpers
  });
})();
