/*
 * The dashboard's track-record panel: GET /api/v1/history and /api/v1/track-record, drawn as
 * past forecasts with their ranges against the actuals, and realised coverage against the
 * nominal level per months ahead. Data goes into the page with textContent only. The API key is
 * the one the person typed on this page (sessionStorage, sent as X-API-Key), as dashboard.js does.
 */
(function () {
  "use strict";

  var KEY_STORAGE = "sales-forecast.api-key";

  function $(id) { return document.getElementById(id); }

  function fmt(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) return "—";
    return Number(value).toLocaleString(undefined, { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }

  function pct(value) { return value === null || value === undefined ? "—" : fmt(value, 1) + " %"; }

  function cell(text, numeric) {
    var td = document.createElement("td");
    if (numeric) td.className = "num";
    td.textContent = text;
    return td;
  }

  function savedKey() {
    try { return window.sessionStorage.getItem(KEY_STORAGE); } catch (e) { return null; }
  }

  function get(url) {
    var headers = { "Accept": "application/json" };
    var key = savedKey();
    if (key) headers["X-API-Key"] = key;
    return fetch(url, { headers: headers, credentials: "omit", cache: "no-store" }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function status(text) { $("track-status").textContent = text; }

  function renderTable(record) {
    var tbody = $("track-table").querySelector("tbody");
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    record.horizons.forEach(function (h) {
      var tr = document.createElement("tr");
      [cell(String(h.months_ahead)), cell(fmt(h.count), true), cell(fmt(h.inside), true), cell(pct(h.coverage), true),
       cell(pct(h.level), true), cell(pct(h.mape), true), cell(pct(h.wape), true)].forEach(function (td) { tr.appendChild(td); });
      tbody.appendChild(tr);
    });
  }

  function drawChart(rows) {
    var chart = $("track-chart");
    var ahead = rows.filter(function (r) { return r.months_ahead === 1; }).reverse(); // oldest first
    if (!window.Plotly) { chart.textContent = "The chart library did not load; the figures are in the table."; return; }
    var monthly = { type: "scatter", xperiod: "M1", xperiodalignment: "middle" };
    var closed = ahead.filter(function (r) { return r.actual !== null; });
    var traces = [
      Object.assign({}, monthly, {
        name: "Forecast with its range", x: ahead.map(function (r) { return r.period; }),
        y: ahead.map(function (r) { return r.forecast; }), mode: "markers",
        marker: { size: 8, symbol: "diamond", color: "#c2410c" },
        error_y: { type: "data", symmetric: false, color: "#c2410c",
                   array: ahead.map(function (r) { return r.high - r.forecast; }),
                   arrayminus: ahead.map(function (r) { return r.forecast - r.low; }) },
        hovertemplate: "forecast %{y:,.2f}<extra></extra>"
      }),
      Object.assign({}, monthly, {
        name: "Actual", x: closed.map(function (r) { return r.period; }), y: closed.map(function (r) { return r.actual; }),
        mode: "lines+markers", line: { color: "#1d4ed8", width: 2 },
        marker: { size: 7, color: closed.map(function (r) { return r.inside ? "#1d4ed8" : "#dc2626"; }) },
        hovertemplate: "actual %{y:,.2f}<extra></extra>"
      })
    ];
    var layout = {
      margin: { t: 20, r: 16, b: 48, l: 72 }, height: 340, hovermode: "x unified",
      xaxis: { type: "date", tickformat: "%b %Y", gridcolor: "#e2e8f0", ticklabelmode: "period" },
      yaxis: { title: { text: "Sales" }, rangemode: "tozero", gridcolor: "#e2e8f0", tickformat: ",.0f" },
      legend: { orientation: "h", x: 0, y: -0.2 }
    };
    window.Plotly.react(chart, traces, layout, { responsive: true, displaylogo: false });
    chart.setAttribute("aria-label", "Chart of " + ahead.length + " past one-month-ahead forecasts with their ranges, and " +
      closed.length + " actuals (" + closed.filter(function (r) { return r.inside; }).length + " inside their range).");
  }

  function load() {
    var panel = $("track-record");
    if (document.body.getAttribute("data-auth-required") === "true" && !savedKey()) {
      // No call without a key: it could only be refused. The panel loads once a job finishes.
      status("Enter the API key in the form above and run a forecast, or refresh the track record.");
      return;
    }
    status("Loading the track record…");
    Promise.all([get(panel.getAttribute("data-track-api")), get(panel.getAttribute("data-history-api") + "?limit=500")])
      .then(function (answers) {
        var record = answers[0], history = answers[1];
        if (record.status === 401 || history.status === 401) {
          status("Enter the API key in the form above, then refresh the track record.");
          return;
        }
        if (record.status !== 200 || history.status !== 200) {
          var error = (record.data && record.data.error) || (history.data && history.data.error) || {};
          status("The track record is unavailable: " + (error.message || "HTTP " + record.status) + ".");
          return;
        }
        var closed = record.data.horizons.reduce(function (n, h) { return n + h.count; }, 0);
        status(closed ? closed + " forecast months closed, " + record.data.pending + " still open."
                      : "No published forecast has reached its month yet (" + record.data.pending + " open).");
        renderTable(record.data);
        drawChart(history.data.forecasts);
      }, function () { status("The track record could not be loaded (network error)."); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!$("track-record")) return;
    $("track-refresh").addEventListener("click", load);
    // A finished job may have closed a month or published a forecast: reload when the results
    // panel (dashboard.js) is shown again.
    var results = $("results");
    if (results && window.MutationObserver) {
      new MutationObserver(function () { if (!results.hidden) load(); })
        .observe(results, { attributes: true, attributeFilter: ["hidden"] });
    }
    load();
  });
})();
