/*
 * The series panel of a grouped job (docs/api.md §8) on the forecast page: the accuracy of each level,
 * a table of one level's series from GET /api/v1/forecasts/{id}/series (the server searches,
 * sorts and pages them; this keeps the cursors of the pages seen, for "Previous"), one series'
 * chart with its own interval, and the CSV of every series.
 *
 * dashboard.js says when a result is shown ("forecast:shown", with the task id and the result's
 * data) or hidden ("forecast:hidden"), and lends its helpers as window.SalesForecast, so the key,
 * the calls and the charts are the rest of the page's. Server text goes in through textContent.
 */
(function () {
  "use strict";

  // The server's sort keys (web/schemas.py SeriesQuery) besides "key", and the figure each sorts by.
  var SORTS = { forecast: "next_period_forecast", growth: "forecast_growth_rate", accuracy: "model_accuracy",
                order: "suggested_order" };
  var SEARCH_DELAY_MS = 300; // a query per pause in typing, not per key
  var SF = null; // window.SalesForecast: dashboard.js runs after this file, before any result
  var state = null; // the shown job's panel; replaced for each result, so late answers can tell
  var searchTimer = null;

  function $(id) { return document.getElementById(id); }

  /** A same-origin path from the server ("/api/..."), else null: the URL this page will call. */
  function localPath(url) {
    return typeof url === "string" && /^\/[^/\\]/.test(url) ? url : null;
  }

  function keyValue(value) {
    return value === null || value === undefined ? SF.el("span", { "class": "null" }, "null") : String(value);
  }

  /** "Apparel › 1003": a series' key values, outermost first. */
  function keyLabel(key, fields) {
    return fields.map(function (field) { return key[field] === null || key[field] === undefined ? "null" : String(key[field]); })
      .join(" › ");
  }

  function levelFields(level) {
    var found = state.levels[level - 1];
    return found && Array.isArray(found.fields) ? found.fields : [];
  }

  function status(text) { $("series-status").textContent = text; }

  function showError(text) {
    var box = $("series-error");
    box.textContent = text || "";
    SF.show(box, !!text);
  }

  // ---- the panel for one job -----------------------------------------------------------------

  function open(taskId, data) {
    SF = window.SalesForecast;
    var hierarchy = data.hierarchy;
    var levels = Array.isArray(hierarchy.levels) ? hierarchy.levels.filter(SF.isObject) : [];
    var base = SF.api + "/" + encodeURIComponent(taskId);
    state = {
      taskId: taskId,
      hierarchy: hierarchy,
      levels: levels,
      total: SF.isObject(data.forecast) ? data.forecast : {},
      measure: SF.measureLabel(hierarchy.measure),
      noun: SF.frequencyOf(data.forecast), // "month", "week" or "day": the labels follow the job's frequency
      seriesUrl: localPath(hierarchy.series_url) || base + "/series",
      csvUrl: localPath(hierarchy.csv_url) || base + "/series.csv",
      level: 1,
      q: "",
      sort: "key",
      // A job with inventory (docs/api.md §12) adds the buyer's columns, sortable by suggested order.
      inventory: SF.isObject(hierarchy.inventory) ? hierarchy.inventory : null,
      limit: Number($("series-limit").value) || 10,
      cursors: [null], // the cursor of each page seen so far; the last is the page shown
      next: null,
      matching: 0,
      rows: [],
      selected: null, // the shown series' key, as JSON
      asked: 0 // the number of the latest query: an older answer is dropped
    };
    SF.show($("series-panel"), true);
    SF.show($("series-detail"), false);
    showError("");
    $("series-q").value = "";
    renderSummary();
    renderLevels();
    var select = $("series-level");
    SF.clear(select);
    levels.forEach(function (level, index) {
      var fields = Array.isArray(level.fields) ? level.fields : [];
      SF.append(select, SF.el("option", { value: index + 1 },
        (index + 1) + ": " + fields.join(" › ") + " (" + SF.fmt(level.series, 0) + " series)"));
    });
    // A job with a measure but no group_by has only its total: nothing to list.
    ["series-list-title", "series-controls", "series-table", "series-table-help"].forEach(function (id) {
      SF.show($(id), levels.length > 0);
    });
    SF.show(document.querySelector("#series-panel .pager"), levels.length > 0);
    if (!levels.length) { status(""); return; }
    renderHead();
    load();
  }

  function close() {
    state = null;
    if (searchTimer) { clearTimeout(searchTimer); searchTimer = null; }
    SF = SF || window.SalesForecast;
    if (SF) SF.show($("series-panel"), false);
  }

  function renderSummary() {
    var h = state.hierarchy;
    var fields = Array.isArray(h.group_by) ? h.group_by : [];
    // The measures and their words come from the server, with the form's options.
    var select = $("measure");
    var words = select ? JSON.parse(select.getAttribute("data-descriptions") || "{}") : {};
    var measures = {};
    Object.keys(words).forEach(function (name) { measures[name] = name + " (" + words[name] + ")"; });
    var counts = ["the total"].concat(state.levels.map(function (level) {
      return SF.fmt(level.series, 0) + " by " + (Array.isArray(level.fields) ? level.fields.join(" › ") : "?");
    }));
    $("series-summary").textContent =
      (fields.length ? "Grouped by " + fields.join(" › ") + ". " : "") +
      "Measure: " + (measures[h.measure] || String(h.measure)) + ". " +
      SF.fmt(h.series, 0) + " series: " + counts.join(", ") + ". " +
      "Reconciled " + String(h.reconciliation || "—") + ": " +
      (h.coherent === true ? "every group's forecast is the sum of its children's, to the cent."
                           : "the forecasts were not checked coherent.");
    renderInventory();
  }

  /** The job's inventory settings, the service level asked for and the one achieved in the backtest. */
  function renderInventory() {
    var box = $("series-inventory");
    var inv = state.inventory;
    SF.show(box, !!inv);
    SF.show($("series-inventory-download"), !!inv);
    if (!inv) return;
    var byLevel = state.levels.map(function (level) {
      var fields = Array.isArray(level.fields) ? level.fields.join(" › ") : "?";
      return fields + " " + SF.pct(level.achieved_service_level);
    });
    box.textContent =
      "Inventory: lead time " + SF.fmt(inv.lead_time, 0) + " + review period " + SF.fmt(inv.review_period, 0) +
      " period(s), service level " + SF.levelPct(inv.service_level) + " asked; achieved in the backtest " +
      SF.pct(inv.achieved_service_level) + " of " + SF.fmt(inv.backtest_origins, 0) + " origins" +
      (byLevel.length ? " (" + byLevel.join(", ") + ")" : "") + ".";
  }

  function levelRow(name, series, backtested, figures) {
    return SF.el("tr", null,
      SF.el("th", { scope: "row" }, name),
      SF.el("td", { "class": "num" }, SF.fmt(series, 0)),
      SF.el("td", { "class": "num" }, SF.fmt(backtested, 0)),
      SF.el("td", { "class": "num" }, SF.pct(figures.model_accuracy)),
      SF.el("td", { "class": "num" }, SF.pct(figures.wape, 2)),
      SF.el("td", { "class": "num" }, SF.fmt(figures.mase, 3)),
      SF.el("td", { "class": "num" }, SF.pct(figures.interval_coverage)));
  }

  function renderLevels() {
    var tbody = $("levels-table").tBodies[0];
    SF.clear(tbody);
    // The total's own figures come from the same one-origin holdout backtest as the levels'.
    var metrics = SF.isObject(state.total.metrics) ? state.total.metrics : {};
    SF.append(tbody, levelRow("Total", 1, metrics.backtest_origins ? 1 : 0, {
      model_accuracy: state.total.model_accuracy, wape: metrics.wape, mase: metrics.mase,
      interval_coverage: metrics.interval_coverage }));
    state.levels.forEach(function (level, index) {
      var fields = Array.isArray(level.fields) ? level.fields : [];
      SF.append(tbody, levelRow((index + 1) + ": " + fields.join(" › "), level.series, level.backtested_series, level));
    });
  }

  // ---- the table's head: sortable columns ------------------------------------------------------

  function sortButton(label, sort) {
    return SF.el("button", { type: "button", "class": "sort", "data-sort": sort,
                             title: sort === "key" ? "The hierarchy's order" : null },
      label, SF.el("span", { "class": "sort-mark", "aria-hidden": "true" }, ""));
  }

  function renderHead() {
    var row = $("series-table").tHead.rows[0];
    SF.clear(row);
    levelFields(state.level).forEach(function (field, index) {
      SF.append(row, SF.el("th", { scope: "col", "data-column": index === 0 ? "key" : "key-" + index }, sortButton(field, "key")));
    });
    var level = SF.levelPct(state.total.confidence_level);
    SF.append(row, [
      SF.el("th", { scope: "col", "class": "num", "data-column": "forecast" },
        sortButton("Next " + state.noun + " (" + (state.total.period || "—") + ")", "forecast")),
      SF.el("th", { scope: "col", "class": "num" }, "Range (" + level + ")"),
      SF.el("th", { scope: "col", "class": "num", "data-column": "growth" }, sortButton("Growth", "growth")),
      SF.el("th", { scope: "col", "class": "num", "data-column": "accuracy" }, sortButton("Accuracy", "accuracy")),
      SF.el("th", { scope: "col" }, "Model")
    ]);
    if (state.inventory) {
      SF.append(row, [
        SF.el("th", { scope: "col", "class": "num", title: "Stock to hold, on hand plus on order, to cover lead time and review period at " +
                      SF.levelPct(state.inventory.service_level) }, "Order up to"),
        SF.el("th", { scope: "col", "class": "num" }, "On hand"),
        SF.el("th", { scope: "col", "class": "num", "data-column": "order" }, sortButton("Suggested order", "order"))
      ]);
    }
    markSort();
  }

  /**
   * aria-sort on the one sorted column (as the ARIA practices' sortable table), and its mark. Key
   * order is the hierarchy's (each parent's series together, in the order the data first named
   * them: web/series.py), neither ascending nor descending: "other".
   */
  function markSort() {
    var column = state.sort === "key" ? "key" : state.sort.replace(/^-/, "");
    var direction = state.sort === "key" ? "other" : state.sort.charAt(0) === "-" ? "descending" : "ascending";
    Array.prototype.forEach.call($("series-table").tHead.rows[0].cells, function (th) {
      var mark = th.querySelector(".sort-mark");
      if (!mark) return;
      var sorted = th.getAttribute("data-column") === column;
      if (sorted) th.setAttribute("aria-sort", direction); else th.removeAttribute("aria-sort");
      var keyColumn = /^key/.test(th.getAttribute("data-column"));
      // A figure's column can be turned both ways (↕); the key columns only bring the key order back.
      mark.textContent = keyColumn ? "" : sorted ? (direction === "descending" ? " ▼" : " ▲") : " ↕";
    });
  }

  /** Key order has one direction; a figure sorts largest first, then smallest first. */
  function nextSort(column) {
    if (column === "key") return "key";
    return state.sort === "-" + column ? column : "-" + column;
  }

  // ---- loading a page ----------------------------------------------------------------------------

  function query() {
    var params = new URLSearchParams();
    params.set("level", String(state.level));
    params.set("limit", String(state.limit));
    params.set("sort", state.sort);
    if (state.q) params.set("q", state.q);
    var cursor = state.cursors[state.cursors.length - 1];
    if (cursor) params.set("cursor", cursor);
    return state.seriesUrl + "?" + params.toString();
  }

  /** The first page of the current level, search and sort. */
  function restart() {
    state.cursors = [null];
    load();
  }

  function load() {
    var mine = state;
    var asked = ++mine.asked;
    $("series-table").setAttribute("aria-busy", "true");
    status("Loading the series…");
    SF.call("GET", query()).then(function (result) {
      if (state !== mine || asked !== mine.asked) return; // another job, or a newer query, since
      $("series-table").setAttribute("aria-busy", "false");
      var page = result.data;
      if (result.status !== 200 || !SF.isObject(page) || !Array.isArray(page.series)) {
        failed(result.status === 401 ? "An API key is needed to list the series: enter it in the form above."
                                     : SF.errorText(result));
        return;
      }
      showError("");
      mine.rows = page.series.filter(SF.isObject);
      mine.next = typeof page.next_cursor === "string" ? page.next_cursor : null;
      mine.matching = typeof page.matching === "number" ? page.matching : mine.rows.length;
      renderRows();
    }, function () {
      if (state !== mine || asked !== mine.asked) return;
      $("series-table").setAttribute("aria-busy", "false");
      failed("The service could not be reached.");
    });
  }

  function failed(message) {
    state.rows = [];
    state.next = null;
    var tbody = $("series-table").tBodies[0];
    SF.clear(tbody);
    SF.append(tbody, SF.el("tr", null, SF.el("td", { colspan: columnCount(), "class": "empty" }, "No series to show.")));
    status("The series could not be loaded.");
    showError(message);
    renderPager();
  }

  function columnCount() { return levelFields(state.level).length + 5 + (state.inventory ? 3 : 0); }

  function renderRows() {
    var fields = levelFields(state.level);
    var tbody = $("series-table").tBodies[0];
    SF.clear(tbody);
    if (!state.rows.length) {
      SF.append(tbody, SF.el("tr", null, SF.el("td", { colspan: columnCount(), "class": "empty" },
        state.q ? "No series of this level has “" + state.q + "” in its key." : "This level has no series.")));
    }
    state.rows.forEach(function (series, index) {
      var key = SF.isObject(series.key) ? series.key : {};
      var forecast = SF.isObject(series.forecast) ? series.forecast : {};
      var label = keyLabel(key, fields);
      // The innermost key names the series within its parent: it is the row's header and its button.
      var cells = fields.map(function (field, i) {
        if (i < fields.length - 1) return SF.el("td", null, keyValue(key[field]));
        var pick = SF.el("button", { type: "button", "class": "link pick", "aria-controls": "series-detail",
                                     "aria-label": "Chart of " + label }, keyValue(key[field]));
        return SF.el("th", { scope: "row" }, pick);
      });
      var row = SF.el("tr", { "data-index": index, "class": "pickable" }, cells,
        SF.el("td", { "class": "num" }, SF.fmt(SF.nextForecast(forecast))),
        SF.el("td", { "class": "num" }, SF.fmt(forecast.expected_range_low) + " – " + SF.fmt(forecast.expected_range_high)),
        SF.el("td", { "class": "num" }, SF.signedPct(forecast.forecast_growth_rate)),
        SF.el("td", { "class": "num" }, SF.pct(forecast.model_accuracy)),
        SF.el("td", { "class": "model" }, String(forecast.model || "—")));
      if (state.inventory) {
        var inventory = SF.isObject(series.inventory) ? series.inventory : {};
        SF.append(row, [
          SF.el("td", { "class": "num" }, SF.fmt(inventory.order_up_to, 0)),
          SF.el("td", { "class": "num" }, SF.fmt(inventory.on_hand, 0)),
          SF.el("td", { "class": "num suggested-order" }, SF.fmt(inventory.suggested_order, 0))
        ]);
      }
      if (JSON.stringify(key) === state.selected) row.setAttribute("aria-current", "true");
      SF.append(tbody, row);
    });
    var first = (state.cursors.length - 1) * state.limit;
    var where = "level " + state.level + " (" + fields.join(" › ") + ")";
    status(state.rows.length
      ? "Series " + SF.fmt(first + 1, 0) + "–" + SF.fmt(first + state.rows.length, 0) + " of " + SF.fmt(state.matching, 0) +
        (state.q ? " matching “" + state.q + "”" : "") + ", " + where + "."
      : "No series " + (state.q ? "matching “" + state.q + "” " : "") + "at " + where + ".");
    renderPager();
  }

  function renderPager() {
    var page = state.cursors.length;
    var pages = Math.max(1, Math.ceil(state.matching / state.limit));
    $("series-page").textContent = state.rows.length ? "Page " + page + " of " + pages : "";
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus on the last page.
    $("series-prev").setAttribute("aria-disabled", page > 1 ? "false" : "true");
    $("series-next").setAttribute("aria-disabled", state.next ? "false" : "true");
  }

  // ---- one series ---------------------------------------------------------------------------------

  function pick(index) {
    var series = state.rows[index];
    if (!series) return;
    state.selected = JSON.stringify(SF.isObject(series.key) ? series.key : {});
    Array.prototype.forEach.call($("series-table").tBodies[0].rows, function (row) {
      if (row.getAttribute("data-index") === String(index)) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    renderDetail(series);
    var title = $("series-detail-title");
    title.focus(); // the chart is below the table: take the reader (and a screen reader) to it
    status("Showing " + title.textContent + ".");
  }

  function renderDetail(series) {
    var key = SF.isObject(series.key) ? series.key : {};
    var fields = Object.keys(key);
    var forecast = SF.isObject(series.forecast) ? series.forecast : {};
    var metrics = SF.isObject(forecast.metrics) ? forecast.metrics : {};
    var quality = SF.isObject(series.data_quality) ? series.data_quality : {};
    var horizon = Array.isArray(forecast.horizon) ? forecast.horizon : [];
    var actual = Array.isArray(series.actual) ? series.actual : [];
    var label = keyLabel(key, fields);
    var level = SF.levelPct(forecast.confidence_level);

    SF.show($("series-detail"), true);
    var title = $("series-detail-title");
    SF.clear(title);
    SF.append(title, fields.map(function (field, i) {
      return [i ? " › " : "", SF.el("span", { "class": "key-name" }, field + " "), keyValue(key[field])];
    }));

    var cards = $("series-cards");
    SF.clear(cards);
    SF.append(cards, [
      SF.card("Next " + state.noun + " (" + (forecast.period || "—") + ")", SF.fmt(SF.nextForecast(forecast)),
        "Range " + SF.fmt(forecast.expected_range_low) + " – " + SF.fmt(forecast.expected_range_high) + " (" + level + " interval)"),
      SF.card("Model accuracy", SF.pct(forecast.model_accuracy), metrics.backtest_origins
        ? "100 − WAPE of its holdout backtest" : "no backtest: too short a history"),
      SF.card("Model", String(forecast.model || "—"), null),
      SF.card("Forecast growth", SF.signedPct(forecast.forecast_growth_rate), "next " + state.noun + " vs the last complete " + state.noun)
    ]);

    SF.drawForecastChart($("series-chart"), {
      actual: actual.filter(SF.isObject), horizon: horizon, forecast: forecast, partial: null,
      anomalies: Array.isArray(series.anomalies) ? series.anomalies.filter(SF.isObject) : [],
      measure: state.measure, subject: label, height: 380
    });
    SF.renderComponents("series-", forecast, state.measure, state.noun);

    SF.dl($("series-accuracy"), [
      ["Model accuracy", SF.pct(forecast.model_accuracy)],
      ["MAE (mean absolute error)", SF.fmt(metrics.mae)],
      ["MAPE", SF.pct(metrics.mape, 2)],
      ["sMAPE", SF.pct(metrics.smape, 2)],
      ["MASE (vs seasonal naive)", SF.fmt(metrics.mase, 3)],
      ["WAPE", SF.pct(metrics.wape, 2)],
      ["Interval coverage (backtest)", SF.pct(metrics.interval_coverage) + " of outcomes, for a " + level + " interval"]
    ]);
    var last = actual.length ? actual[actual.length - 1] : null;
    SF.dl($("series-quality"), [
      ["Sale lines used", SF.fmt(quality.lines_used, 0)],
      ["First " + state.noun + " with a sale", quality.first_period ? String(quality.first_period) : "none"],
      ["Complete " + state.noun + "s since", SF.fmt(quality.months, 0)],
      [SF.capitalise(state.noun) + "s with none (zeros)", SF.fmt(quality.months_zero, 0)],
      ["Anomalies (▲ spike, ▼ dip)", Array.isArray(series.anomalies) && series.anomalies.length
        ? series.anomalies.filter(SF.isObject).map(function (a) { return a.period + " " + (a.kind === "dip" ? "▼" : "▲"); }).join(", ") : "none"],
      ["Last complete " + state.noun, last ? String(last.period) + ": " + SF.fmt(last.value) : "—"]
    ]);

    $("series-horizon-period").textContent = SF.capitalise(state.noun);
    var tbody = $("series-horizon").tBodies[0];
    SF.clear(tbody);
    horizon.filter(SF.isObject).forEach(function (point) {
      var names = SF.eventNames(point);
      SF.append(tbody, SF.el("tr", names.length ? { "class": "event", title: names.join(", ") } : null,
        SF.el("th", { scope: "row" }, String(point.period) + (names.length ? " · " + names.join(", ") : "")),
        SF.el("td", { "class": "num" }, SF.fmt(point.forecast)),
        SF.el("td", { "class": "num" }, SF.fmt(point.low)),
        SF.el("td", { "class": "num" }, SF.fmt(point.high))));
    });
  }

  /** A key's values by field, compared as text (the history stores "17" for 17): for matching an alert. */
  function sameKey(a, b) {
    var fields = Object.keys(a);
    if (fields.length !== Object.keys(b).length) return false;
    return fields.every(function (f) {
      return Object.prototype.hasOwnProperty.call(b, f) &&
        (a[f] === null || a[f] === undefined ? b[f] === null || b[f] === undefined : b[f] !== null && String(a[f]) === String(b[f]));
    });
  }

  /**
   * Show the series with this key (an alert's `series`) when it belongs to the job on screen: its level
   * is its number of fields, and the server searches its innermost value. Resolves to true when shown.
   */
  function showKey(taskId, key) {
    if (!state || state.taskId !== taskId || !SF.isObject(key)) return Promise.resolve(false);
    var level = Object.keys(key).length;
    var fields = level ? levelFields(level) : [];
    if (!level || fields.length !== level) return Promise.resolve(false);
    var inner = key[fields[fields.length - 1]];
    var params = new URLSearchParams({ level: String(level), limit: "500", sort: "key",
                                       q: inner === null || inner === undefined ? "null" : String(inner) });
    var mine = state;
    return SF.call("GET", state.seriesUrl + "?" + params.toString()).then(function (result) {
      if (state !== mine || result.status !== 200 || !SF.isObject(result.data) || !Array.isArray(result.data.series)) return false;
      var found = result.data.series.filter(function (s) { return SF.isObject(s) && SF.isObject(s.key) && sameKey(s.key, key); })[0];
      if (!found) return false;
      state.selected = JSON.stringify(found.key);
      renderDetail(found);
      var title = $("series-detail-title");
      title.focus();
      status("Showing " + title.textContent + ".");
      return true;
    }, function () { return false; });
  }

  window.SalesForecastSeries = { show: showKey, isOpen: function (taskId) { return !!state && state.taskId === taskId; } };

  // ---- the CSV -------------------------------------------------------------------------------------

  function downloadCsv(inventory) {
    var mine = state;
    var button = $(inventory ? "series-inventory-csv" : "series-csv");
    var url = inventory ? localPath(mine.inventory.csv_url) || mine.csvUrl + "?view=inventory" : mine.csvUrl;
    button.setAttribute("aria-busy", "true");
    status("Preparing the CSV…");
    SF.fetchFile(url, "text/csv").then(function (result) {
      button.setAttribute("aria-busy", "false");
      if (state !== mine) return;
      if (!result.blob) {
        status("The CSV could not be downloaded.");
        showError(result.status === 401 ? "An API key is needed to download: enter it in the form above."
                                        : SF.errorText(result));
        return;
      }
      showError("");
      SF.saveFile(result.blob, result.filename || "forecast-" + mine.taskId + "-series.csv");
      status("CSV downloaded (" + SF.fmt(result.blob.size / 1024, 1) + " kB).");
    }, function () {
      button.setAttribute("aria-busy", "false");
      if (state === mine) showError("The service could not be reached.");
    });
  }

  // ---- wiring ---------------------------------------------------------------------------------------

  function search(now) {
    if (searchTimer) { clearTimeout(searchTimer); searchTimer = null; }
    var run = function () {
      if (!state) return;
      var q = $("series-q").value.trim();
      if (q === state.q) return;
      state.q = q;
      restart();
    };
    if (now) run(); else searchTimer = setTimeout(run, SEARCH_DELAY_MS);
  }

  function init() {
    if (!$("series-panel")) return;
    $("series-controls").addEventListener("submit", function (event) { event.preventDefault(); search(true); });
    $("series-q").addEventListener("input", function () { search(false); });
    $("series-level").addEventListener("change", function (event) {
      if (!state) return;
      state.level = Number(event.target.value) || 1;
      renderHead();
      restart();
    });
    $("series-limit").addEventListener("change", function (event) {
      if (!state) return;
      state.limit = Number(event.target.value) || 10;
      restart();
    });
    $("series-table").tHead.addEventListener("click", function (event) {
      var button = event.target.closest("button.sort");
      if (!button || !state) return;
      state.sort = nextSort(button.getAttribute("data-sort"));
      markSort();
      restart();
    });
    // A click anywhere on a row shows its series; its button does it from the keyboard (Enter, Space).
    $("series-table").tBodies[0].addEventListener("click", function (event) {
      var row = event.target.closest("tr[data-index]");
      if (row && state) pick(Number(row.getAttribute("data-index")));
    });
    $("series-prev").addEventListener("click", function () {
      if (!state || state.cursors.length < 2) return;
      state.cursors.pop();
      load();
    });
    $("series-next").addEventListener("click", function () {
      if (!state || !state.next) return;
      state.cursors.push(state.next);
      state.next = null; // a second click before the answer must not push the same page again
      load();
    });
    $("series-csv").addEventListener("click", function () { if (state) downloadCsv(false); });
    $("series-inventory-csv").addEventListener("click", function () { if (state && state.inventory) downloadCsv(true); });
    $("series-back").addEventListener("click", function () {
      var current = document.querySelector("#series-table tbody tr[aria-current] button.pick");
      (current || $("series-level")).focus();
    });
  }

  document.addEventListener("forecast:shown", function (event) {
    var detail = event.detail || {};
    if (detail.data && detail.data.hierarchy !== null && typeof detail.data.hierarchy === "object") open(detail.taskId, detail.data);
    else close();
  });
  document.addEventListener("forecast:hidden", close);
  document.addEventListener("DOMContentLoaded", init);
})();
