/*
 * The dashboard's script: the forecast page (/) and the recent jobs page (/jobs).
 *
 * A grouped job's series panel lives in series_table.js: this script tells it when a result is
 * shown or hidden ("forecast:shown" / "forecast:hidden" events on document) and lends it the
 * helpers below as window.SalesForecast, so both speak to the API and draw charts the same way.
 *
 * Everything the server sends is data: it is put into the page with textContent and
 * createElement only (never innerHTML), and into the chart through plotText(), because plotly.js
 * reads a few HTML tags in its text. The API key is typed by the person, kept in this tab's
 * sessionStorage and sent as X-API-Key; the server never hands one out.
 */
(function () {
  "use strict";

  var KEY_STORAGE = "sales-forecast.api-key";
  var STAGES = ["queued", "fetching", "aggregating", "training", "backtesting", "predicting", "done"];
  var TERMINAL = { SUCCESS: true, FAILURE: true, REVOKED: true };
  var body = document.body;
  var API = body.getAttribute("data-api"); // /api/v1/forecasts

  // ---- small DOM helpers ------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  /** el("td", {class: "num"}, "text", childNode, ...): text children become text nodes. */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, String(attrs[name]));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function show(node, visible) { node.hidden = !visible; }

  /** Text for plotly.js, which understands <b>, <br>, <a> and entities: escape all of them. */
  function plotText(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&#34;").replace(/'/g, "&#39;"); // plotly decodes numeric entities, not &quot;
  }

  var numberFormats = {};
  function fmt(value, digits) {
    if (value === null || value === undefined || typeof value !== "number" || !isFinite(value)) return "—";
    var d = digits === undefined ? 2 : digits;
    numberFormats[d] = numberFormats[d] || new Intl.NumberFormat(undefined, {
      minimumFractionDigits: d, maximumFractionDigits: d });
    return numberFormats[d].format(value);
  }
  function pct(value, digits) { return value === null || value === undefined ? "—" : fmt(value, digits === undefined ? 1 : digits) + " %"; }
  /** A level such as 90 or 99.5, without a trailing ".0". */
  function levelPct(value) {
    if (typeof value !== "number" || !isFinite(value)) return "—";
    return new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(value) + " %";
  }
  function signedPct(value) {
    if (typeof value !== "number" || !isFinite(value)) return "—";
    return (value > 0 ? "+" : "") + fmt(value, 1) + " %";
  }
  function when(iso) {
    if (!iso) return "—";
    var date = new Date(iso);
    return isNaN(date.getTime()) ? String(iso) : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
  function isObject(value) { return value !== null && typeof value === "object" && !Array.isArray(value); }
  /** What a result's numbers count: "Sales" for a forecast of sales, else its measure (docs/api.md §8). */
  function measureLabel(measure) {
    return { revenue: "Revenue", units: "Units", orders: "Orders" }[measure] || "Sales";
  }

  // ---- the API key --------------------------------------------------------------------------

  function savedKey() {
    try { return sessionStorage.getItem(KEY_STORAGE) || ""; } catch (e) { return ""; }
  }
  function saveKey(key) {
    try { if (key) sessionStorage.setItem(KEY_STORAGE, key); else sessionStorage.removeItem(KEY_STORAGE); } catch (e) { /* storage off: the key lives in the field */ }
  }

  var keyInput = null;

  /** Put the key field (from <template id="key-template">) into the page's #key-slot. */
  function mountKeyField() {
    var slot = $("key-slot");
    var template = $("key-template");
    if (!slot || !template) return;
    slot.appendChild(template.content.cloneNode(true));
    keyInput = slot.querySelector("#api-key");
    slot.querySelector(".forget-key").addEventListener("click", function () {
      saveKey("");
      keyInput.value = "";
      refreshKeyHints();
      keyInput.focus();
    });
    refreshKeyHints();
  }

  function refreshKeyHints() {
    var slot = $("key-slot");
    if (!slot || !keyInput) return;
    var has = !!savedKey();
    show(slot.querySelector(".key-saved"), has);
    show(slot.querySelector(".forget-key"), has);
  }

  /** The key to send: what is typed (remembered for the tab), else what was remembered. */
  function currentKey() {
    if (keyInput && keyInput.value.trim()) {
      saveKey(keyInput.value.trim());
      keyInput.value = "";
      refreshKeyHints();
    }
    return savedKey();
  }

  function askForKey(message) {
    var slot = $("key-slot");
    if (!slot || !keyInput) return;
    show(slot, true);
    saveKey("");
    refreshKeyHints();
    showError(message);
    keyInput.setAttribute("aria-invalid", "true");
    keyInput.focus();
  }

  // ---- calling the API ----------------------------------------------------------------------

  /** fetch() with the key; resolves to the Response; rejects only on network errors. */
  function send(method, url, payload, accept) {
    var headers = { "Accept": accept || "application/json" };
    var key = currentKey();
    if (key) headers["X-API-Key"] = key;
    var init = { method: method, headers: headers, credentials: "omit", cache: "no-store" };
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    return fetch(url, init);
  }

  /** The JSON body of a response (null when there is none), after asking for a key on a 401. */
  function readJson(response) {
    return response.text().then(function (text) {
      var data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
      if (response.status === 401) {
        askForKey((data && data.error && data.error.message) || "An API key is required.");
      } else if (keyInput) {
        keyInput.removeAttribute("aria-invalid");
      }
      return data;
    });
  }

  /** A JSON call with the key; resolves to {status, data, headers}; rejects only on network errors. */
  function call(method, url, payload) {
    return send(method, url, payload).then(function (response) {
      return readJson(response).then(function (data) {
        return { status: response.status, data: data, headers: response.headers };
      });
    });
  }

  /**
   * GET a file with the key (a plain link could not send X-API-Key): resolves to
   * {status, blob, filename} when it came, else {status, data} with the error document.
   */
  function fetchFile(url, accept) {
    return send("GET", url, undefined, accept).then(function (response) {
      if (!response.ok) {
        return readJson(response).then(function (data) { return { status: response.status, data: data }; });
      }
      if (keyInput) keyInput.removeAttribute("aria-invalid");
      var disposition = response.headers.get("Content-Disposition") || "";
      var named = /filename="([^"]+)"/.exec(disposition);
      return response.blob().then(function (blob) {
        return { status: response.status, blob: blob, filename: named ? named[1] : "" };
      });
    });
  }

  /** Hand a fetched file to the browser's downloads: a blob: URL, which the CSP's default allows
   *  for a download (it is a navigation, not a fetch), kept until the download has surely begun. */
  function saveFile(blob, filename) {
    var url = URL.createObjectURL(blob);
    var link = el("a", { href: url, download: filename, hidden: "" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function errorText(result) {
    var error = result.data && result.data.error;
    if (isObject(error) && error.message) {
      return error.message + (error.code ? " (" + error.code + ")" : "");
    }
    return "The server answered " + result.status + ".";
  }

  function showError(message) {
    var box = $("error");
    if (!box) return;
    box.textContent = message || "";
    show(box, !!message);
  }

  function announce(message) {
    var status = $("status");
    if (status) status.textContent = message;
  }

  // ==== the forecast page =====================================================================

  /** The total's inventory figures under the growth list: what to hold, the level asked and achieved. */
  function appendInventory(list, inventory) {
    var covered = " periods (lead time " + fmt(inventory.lead_time, 0) + " + review period " + fmt(inventory.review_period, 0) + ")";
    [["Demand over lead time and review", fmt(inventory.lead_time_demand) + " over" + covered],
     ["Order up to", fmt(inventory.order_up_to) + " (safety stock " + fmt(inventory.safety_stock) + ")"],
     ["Service level", levelPct(inventory.service_level) + " asked; " + pct(inventory.achieved_service_level) +
       " achieved in the backtest (" + fmt(inventory.backtest_origins, 0) + " origins)"]].forEach(function (pair) {
      append(list, el("div", { "class": "figure" }, el("dt", null, pair[0]), el("dd", null, pair[1])));
    });
  }

  var FIELD_IDS = { start_date: "start-date", end_date: "end-date", horizon: "horizon", level: "level", model: "model",
                    group_by: "group-by", measure: "measure", "inventory.lead_time": "lead-time",
                    "inventory.review_period": "review-period", "inventory.service_level": "service-level",
                    inventory: "lead-time" };
  var pollTimer = null;
  var currentTask = null;

  function clearFieldErrors() {
    Object.keys(FIELD_IDS).filter(function (name) { return name !== "inventory"; }).forEach(function (name) {
      var input = $(FIELD_IDS[name]);
      input.removeAttribute("aria-invalid");
      var message = $(FIELD_IDS[name] + "-error");
      message.textContent = "";
      show(message, false);
    });
  }

  function fieldError(field, message) {
    // The server names a list item "group_by.0"; an inventory field "inventory.lead_time".
    var id = FIELD_IDS[String(field)] || FIELD_IDS[String(field).split(".")[0]];
    if (!id) return false;
    var input = $(id);
    var box = $(id + "-error");
    input.setAttribute("aria-invalid", "true");
    box.textContent = message;
    show(box, true);
    input.focus();
    return true;
  }

  /**
   * "category, product_id" -> {fields: ["category", "product_id"]}, or {error} by the server's rule
   * (the pattern and the count come from shared/contract/schema.py through the input's data attributes).
   */
  function parseGroupBy(input) {
    var text = input.value.trim();
    if (!text) return { fields: [] };
    var pattern = new RegExp(input.getAttribute("data-pattern"));
    var most = Number(input.getAttribute("data-max")) || 3;
    var fields = text.split(",").map(function (name) { return name.trim(); });
    if (fields.some(function (name) { return !name; })) return { error: "An empty field name: separate the names with single commas." };
    var bad = fields.filter(function (name) { return !pattern.test(name); });
    if (bad.length) return { error: "“" + bad[0] + "” is not a field name: letters, digits and _, not starting with a digit, at most 64." };
    if (fields.length > most) return { error: "At most " + most + " fields." };
    var twice = fields.filter(function (name, i) { return fields.indexOf(name) !== i; });
    if (twice.length) return { error: "“" + twice[0] + "” is named twice." };
    return { fields: fields };
  }

  function formBody(form) {
    var payload = {};
    var start = form.elements.start_date.value;
    var end = form.elements.end_date.value;
    if (start) payload.start_date = start;
    if (end) payload.end_date = end;
    payload.horizon = Number(form.elements.horizon.value);
    payload.level = Number(form.elements.level.value);
    payload.model = form.elements.model.value;
    if (form.elements.refresh.checked) payload.refresh = true;
    // Only a grouped request names them: a single forecast's body stays what it always was.
    var groups = parseGroupBy(form.elements.group_by);
    var measure = form.elements.measure.value;
    if (groups.fields && groups.fields.length) payload.group_by = groups.fields;
    if (payload.group_by || measure !== "revenue") payload.measure = measure;
    // Inventory only with a lead time (docs/api.md §12): the other two have defaults.
    var lead = form.elements.lead_time.value;
    if (lead !== "") {
      payload.inventory = { lead_time: Number(lead) };
      if (form.elements.review_period.value !== "") payload.inventory.review_period = Number(form.elements.review_period.value);
      if (form.elements.service_level.value !== "") payload.inventory.service_level = Number(form.elements.service_level.value);
    }
    return payload;
  }

  function setBusy(busy) {
    var button = $("submit");
    button.disabled = false; // a disabled button loses focus; say it with aria-busy instead
    $("forecast-form").setAttribute("aria-busy", busy ? "true" : "false");
  }

  function submitForecast(event) {
    event.preventDefault();
    var form = event.target;
    clearFieldErrors();
    showError("");
    var groups = parseGroupBy(form.elements.group_by);
    if (groups.error) {
      announce("The forecast was not submitted.");
      fieldError("group_by", groups.error);
      return;
    }
    setBusy(true);
    announce("Submitting the forecast…");
    call("POST", API, formBody(form)).then(function (result) {
      setBusy(false);
      if (result.status === 202 && result.data && result.data.task_id) {
        watch(result.data.task_id);
        return;
      }
      if (result.status === 401) { announce("An API key is needed."); return; }
      var error = result.data && result.data.error;
      announce("The forecast was not submitted.");
      showError(errorText(result));
      if (isObject(error) && error.field) fieldError(error.field, error.message || "Invalid value.");
    }, function () {
      setBusy(false);
      announce("The forecast was not submitted.");
      showError("The service could not be reached.");
    });
  }

  function watch(taskId) {
    if (pollTimer) clearTimeout(pollTimer);
    currentTask = taskId;
    show($("results"), false);
    document.dispatchEvent(new CustomEvent("forecast:hidden"));
    $("task-id").textContent = taskId;
    show($("task-line"), true);
    show($("cancel"), true);
    setProgress({ stage: "queued", percent: 0 }, "PENDING");
    announce("Forecast submitted: queued.");
    var url = new URL(window.location.href);
    url.searchParams.set("task", taskId);
    window.history.replaceState(null, "", url.pathname + url.search);
    poll(taskId);
  }

  function poll(taskId) {
    call("GET", API + "/" + encodeURIComponent(taskId)).then(function (result) {
      if (taskId !== currentTask) return;
      if (result.status !== 200 || !result.data) {
        if (result.status === 401) { announce("An API key is needed to follow this job."); return; }
        show($("cancel"), false);
        announce("The job's status could not be read.");
        showError(errorText(result));
        return;
      }
      var doc = result.data;
      setProgress(doc.progress || {}, doc.status);
      if (!TERMINAL[doc.status]) {
        var wait = Number(result.headers.get("Retry-After")) || 1;
        pollTimer = setTimeout(function () { poll(taskId); }, Math.min(Math.max(wait, 0.5), 5) * 1000);
        return;
      }
      show($("cancel"), false);
      if (doc.status === "SUCCESS" && isObject(doc.result) && isObject(doc.result.data)) {
        announce("Forecast ready.");
        renderResult(doc.result.data);
        document.dispatchEvent(new CustomEvent("forecast:shown", { detail: { taskId: taskId, data: doc.result.data } }));
      } else if (doc.status === "REVOKED") {
        announce("The job was cancelled.");
      } else {
        announce("The forecast failed.");
        showError(isObject(doc.error) ? doc.error.message + " (" + doc.error.code + ")" : "The job failed.");
      }
    }, function () {
      if (taskId !== currentTask) return;
      announce("The service could not be reached; retrying…");
      pollTimer = setTimeout(function () { poll(taskId); }, 2000);
    });
  }

  var lastAnnounced = "";
  function setProgress(progress, status) {
    var percent = Math.max(0, Math.min(100, Number(progress.percent) || 0));
    var stage = typeof progress.stage === "string" ? progress.stage : "";
    var bar = $("progress");
    bar.value = percent;
    bar.textContent = percent + "%";
    bar.setAttribute("aria-valuetext", stage + ", " + percent + "%");
    $("progress-text").textContent = stage + " · " + percent + "%";
    var at = STAGES.indexOf(stage);
    Array.prototype.forEach.call($("stages").children, function (item, index) {
      var state = at < 0 ? "" : index < at ? "done" : index === at ? "current" : "";
      if (status === "SUCCESS") state = "done";
      item.className = state;
      if (state === "current") item.setAttribute("aria-current", "step"); else item.removeAttribute("aria-current");
    });
    // Announce stage changes, not every percent: a screen reader would read them all.
    var line = "Job " + String(status || "").toLowerCase() + ": " + stage;
    if (!TERMINAL[status] && line !== lastAnnounced) {
      lastAnnounced = line;
      announce(line + " (" + percent + "%).");
    }
  }

  function cancelJob() {
    if (!currentTask) return;
    var taskId = currentTask;
    call("DELETE", API + "/" + encodeURIComponent(taskId)).then(function (result) {
      if (result.status === 202) announce("Cancelling the job…");
      else showError(errorText(result));
    });
  }

  // ---- rendering a result -------------------------------------------------------------------

  function dl(node, rows) {
    clear(node);
    rows.forEach(function (row) {
      append(node, el("div", { "class": "figure" }, el("dt", null, row[0]), el("dd", null, row[1])));
    });
  }

  function card(label, value, note) {
    // A long value (auto's model names all its members) gets a smaller type, not an overflow.
    return el("div", { "class": "card" },
      el("p", { "class": "card-label" }, label),
      el("p", { "class": String(value).length > 16 ? "card-value long" : "card-value" }, value),
      note ? el("p", { "class": "card-note" }, note) : null);
  }

  function renderResult(data) {
    var actual = Array.isArray(data.actual_sales) ? data.actual_sales : [];
    var forecast = isObject(data.forecast) ? data.forecast : {};
    var horizon = Array.isArray(forecast.horizon) ? forecast.horizon : [];
    var metrics = isObject(forecast.metrics) ? forecast.metrics : {};
    var quality = isObject(data.data_quality) ? data.data_quality : {};
    var partial = isObject(quality.partial_month) ? quality.partial_month : null;
    var meta = isObject(data.meta) ? data.meta : {};
    var level = forecast.confidence_level;
    // A grouped job's figures are the total's, from sale lines, scored by one holdout backtest
    // (docs/grouped.md), not the rolling origins of a single forecast: the labels say which.
    var grouped = isObject(data.hierarchy);
    var what = measureLabel(grouped ? data.hierarchy.measure : null);
    var rows = grouped ? "Sale lines" : "Rows";

    show($("results"), true);
    $("results-title").textContent = (grouped ? "Forecast of the total for " : "Forecast for ") + (forecast.period || "next month");
    $("accuracy-title").textContent = grouped ? "Accuracy (holdout backtest, one origin)" : "Accuracy (rolling-origin backtest)";
    $("numbers-sales").textContent = what;

    var summary = $("summary");
    clear(summary);
    append(summary, [
      card("Next month (" + (forecast.period || "—") + ")", fmt(forecast.next_month_forecast),
           "Range " + fmt(forecast.expected_range_low) + " – " + fmt(forecast.expected_range_high) + " (" + levelPct(level) + " interval)"),
      card("Model accuracy", pct(forecast.model_accuracy), grouped
        ? "100 − WAPE of a holdout backtest, 1 to k months ahead"
        : "100 − WAPE of one-step-ahead backtests"),
      card("Model", String(forecast.model || "—"), metrics.backtest_origins
        ? metrics.backtest_origins + (metrics.backtest_origins === 1 ? " backtest origin" : " backtest origins") : "no backtest"),
      card("Forecast growth", signedPct(forecast.forecast_growth_rate), "next month vs the last complete month")
    ]);

    drawForecastChart($("chart"), {
      actual: actual.map(function (p) { return { period: p.period, value: p.total_sales }; }),
      horizon: horizon, forecast: forecast, measure: what,
      partial: partial ? { period: partial.period, value: partial.total_sales } : null
    });

    dl($("accuracy"), [
      ["Model accuracy", pct(forecast.model_accuracy)],
      ["MAE (mean absolute error)", fmt(metrics.mae)],
      ["MAPE", pct(metrics.mape, 2)],
      ["sMAPE", pct(metrics.smape, 2)],
      ["MASE (vs seasonal naive)", fmt(metrics.mase, 3)],
      ["WAPE", pct(metrics.wape, 2)],
      ["Backtest origins", metrics.backtest_origins === undefined ? "—" : String(metrics.backtest_origins)],
      ["Interval coverage (backtest)", pct(metrics.interval_coverage) + " of outcomes, for a " + levelPct(level) + " interval"]
    ]);

    dl($("growth"), [
      ["Last complete month vs the one before", signedPct(forecast.growth_rate)],
      ["Forecast vs the last complete month", signedPct(forecast.forecast_growth_rate)]
    ]);
    // The total's order-up-to figures, when the job asked for inventory (docs/api.md §12).
    var inventory = isObject(data.inventory) ? data.inventory : null;
    if (inventory) {
      appendInventory($("growth"), inventory);
    }

    var rejected = isObject(quality.rows_rejected) ? quality.rows_rejected : {};
    var reasons = Object.keys(rejected);
    var rejectedTotal = reasons.reduce(function (sum, reason) { return sum + (Number(rejected[reason]) || 0); }, 0);
    var rejectedList = reasons.length
      ? el("ul", { "class": "plain" }, reasons.map(function (reason) {
          return el("li", null, reason.replace(/_/g, " ") + ": " + fmt(rejected[reason], 0));
        }))
      : null;
    var zeroFilled = Array.isArray(quality.months_zero_filled) ? quality.months_zero_filled : [];
    dl($("quality"), [
      [rows + " fetched", fmt(quality.rows_fetched, 0)],
      [rows + " used", fmt(quality.rows_used, 0)],
      [rows + " rejected", [fmt(rejectedTotal, 0), rejectedList]],
      ["Duplicates (same id)", fmt(quality.duplicates, 0)],
      ["Negative totals (refunds)", fmt(quality.negative_totals, 0)],
      ["Months without sales (zero-filled)", zeroFilled.length ? zeroFilled.join(", ") : "none"],
      ["Month in progress", partial
        ? partial.period + ": " + fmt(partial.total_sales) + " from " + fmt(partial.transaction_count, 0) + " transactions" +
          (partial.days_elapsed ? " (" + partial.days_elapsed + " of " + partial.days_in_month + " days)" : "") + "; not used for training"
        : "none"]
    ]);

    renderTable(actual, horizon, partial);

    $("meta").textContent = "Generated " + when(meta.generated_at) + (meta.cached ? " (from the cache)" : "") +
      " · model version " + (meta.model_version || "—") + " · source " + (meta.source || "—") +
      " · data fingerprint " + String(meta.data_fingerprint || "—").slice(0, 12);
  }

  function renderTable(actual, horizon, partial) {
    var tbody = $("numbers").tBodies[0];
    clear(tbody);
    actual.forEach(function (row) {
      append(tbody, el("tr", null, el("th", { scope: "row" }, row.period), el("td", null, "actual"),
        el("td", { "class": "num" }, fmt(row.total_sales)), el("td", { "class": "num" }, fmt(row.transaction_count, 0)),
        el("td", null, ""), el("td", null, "")));
    });
    if (partial) {
      append(tbody, el("tr", { "class": "partial" }, el("th", { scope: "row" }, partial.period),
        el("td", null, "month to date (partial)"),
        el("td", { "class": "num" }, fmt(partial.total_sales)), el("td", { "class": "num" }, fmt(partial.transaction_count, 0)),
        el("td", null, ""), el("td", null, "")));
    }
    horizon.forEach(function (row) {
      append(tbody, el("tr", { "class": "forecast" }, el("th", { scope: "row" }, row.period), el("td", null, "forecast"),
        el("td", { "class": "num" }, fmt(row.forecast)), el("td", null, ""),
        el("td", { "class": "num" }, fmt(row.low)), el("td", { "class": "num" }, fmt(row.high))));
    });
  }

  function monthStart(period, offset) {
    var year = Number(String(period).slice(0, 4));
    var month = Number(String(period).slice(5, 7)) - 1 + (offset || 0);
    var date = new Date(Date.UTC(year, month, 1));
    return date.toISOString().slice(0, 10);
  }

  /**
   * A forecast chart in `chart`: the complete months, the forecast with its interval band and, for
   * the shop's total, the month in progress (shaded). opts: {actual: [{period, value}], horizon,
   * forecast (the §5 block), partial: {period, value} | null, measure: what the numbers count}.
   * Each trace's `meta` names it, for the tests and for anyone reading chart.data.
   */
  function drawForecastChart(chart, opts) {
    if (!window.Plotly) {
      chart.textContent = "The chart library did not load; the numbers are in the table below.";
      return;
    }
    var actual = opts.actual, horizon = opts.horizon, partial = opts.partial, forecast = opts.forecast;
    var measure = opts.measure || "Sales";
    var noun = measure.toLowerCase();
    var levelText = levelPct(forecast.confidence_level);
    var monthly = { xperiod: "M1", xperiodalignment: "middle" }; // each point sits mid-month
    function trace(extra) { return Object.assign({ type: "scatter" }, monthly, extra); }
    var hx = horizon.map(function (p) { return p.period; });
    var traces = [
      trace({ meta: "interval_low", name: plotText(levelText + " interval, low"), x: hx,
              y: horizon.map(function (p) { return p.low; }), mode: "lines", line: { width: 0, color: "#c2410c" },
              showlegend: false, hovertemplate: "low %{y:,.2f}<extra></extra>" }),
      trace({ meta: "interval_high", legendrank: 3, name: plotText(levelText + " interval"), x: hx,
              y: horizon.map(function (p) { return p.high; }), mode: "lines", line: { width: 0, color: "#c2410c" },
              fill: "tonexty", fillcolor: "rgba(194, 65, 12, 0.18)", hovertemplate: "high %{y:,.2f}<extra></extra>" }),
      trace({ meta: "actual", legendrank: 1, name: "Actual " + noun, x: actual.map(function (p) { return p.period; }),
              y: actual.map(function (p) { return p.value; }), mode: "lines+markers",
              line: { color: "#1d4ed8", width: 2 }, marker: { size: 5 },
              hovertemplate: "actual %{y:,.2f}<extra></extra>" }),
      trace({ meta: "forecast", legendrank: 2, name: plotText("Forecast (" + (forecast.model || "model") + ")"), x: hx,
              y: horizon.map(function (p) { return p.forecast; }), mode: "lines+markers",
              line: { color: "#c2410c", width: 2, dash: "dash" }, marker: { size: 7, symbol: "diamond" },
              hovertemplate: "forecast %{y:,.2f}<extra></extra>" })
    ];
    var shapes = [];
    var annotations = [];
    if (partial && partial.period) {
      traces.push(trace({ meta: "partial_month", legendrank: 4, name: "Month to date (partial)", x: [partial.period],
        y: [partial.value], mode: "markers",
        marker: { size: 10, symbol: "circle-open", color: "#475569", line: { width: 2 } },
        hovertemplate: "month to date %{y:,.2f}<extra></extra>" }));
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: monthStart(partial.period), x1: monthStart(partial.period, 1),
        y0: 0, y1: 1, fillcolor: "rgba(100, 116, 139, 0.15)", line: { width: 0 }, layer: "below" });
      annotations.push({ xref: "x", yref: "paper", x: monthStart(partial.period, 0).slice(0, 8) + "15", y: 1,
        yanchor: "bottom", text: "in progress", showarrow: false, font: { size: 11, color: "#334155" } });
    }
    var layout = {
      margin: { t: 28, r: 16, b: 48, l: 72 },
      height: opts.height || 420,
      hovermode: "x unified",
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 13, color: "#0f172a" },
      paper_bgcolor: "#ffffff",
      plot_bgcolor: "#ffffff",
      xaxis: { type: "date", tickformat: "%b %Y", gridcolor: "#e2e8f0", ticklabelmode: "period" },
      yaxis: { title: { text: measure }, rangemode: "tozero", gridcolor: "#e2e8f0", tickformat: ",.0f" },
      legend: { orientation: "h", x: 0, y: -0.15, traceorder: "normal" },
      shapes: shapes,
      annotations: annotations
    };
    var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
    window.Plotly.react(chart, traces, layout, config);
    chart.setAttribute("aria-label", "Chart of monthly " + noun + (opts.subject ? " of " + opts.subject : "") +
      " with the forecast for " + (forecast.period || "next month") + ": " + fmt(forecast.next_month_forecast) +
      " (range " + fmt(forecast.expected_range_low) + " to " + fmt(forecast.expected_range_high) + ").");
  }

  function initForecastPage() {
    mountKeyField();
    $("forecast-form").addEventListener("submit", submitForecast);
    $("cancel").addEventListener("click", cancelJob);
    var task = new URL(window.location.href).searchParams.get("task");
    if (task) watch(task);
  }

  // ==== the recent jobs page ==================================================================

  var jobsTimer = null;

  function loadJobs(announceIt) {
    if (jobsTimer) { clearTimeout(jobsTimer); jobsTimer = null; }
    call("GET", API + "?limit=50").then(function (result) {
      if (result.status !== 200 || !result.data || !Array.isArray(result.data.jobs)) {
        if (result.status !== 401) showError(errorText(result));
        announce("The jobs could not be listed.");
        return;
      }
      showError("");
      var jobs = result.data.jobs;
      renderJobs(jobs);
      if (announceIt) announce(jobs.length + (jobs.length === 1 ? " job" : " jobs") + ", updated " + new Date().toLocaleTimeString() + ".");
      var running = jobs.some(function (job) { return !TERMINAL[job.status]; });
      if (running) jobsTimer = setTimeout(function () { loadJobs(false); }, 3000);
    }, function () {
      announce("The service could not be reached.");
    });
  }

  function renderJobs(jobs) {
    var tbody = $("jobs").tBodies[0];
    clear(tbody);
    if (!jobs.length) {
      append(tbody, el("tr", null, el("td", { colspan: 10 }, "No jobs yet.")));
      return;
    }
    jobs.forEach(function (job) {
      var params = isObject(job.params) ? job.params : {};
      var summary = isObject(job.forecast) ? job.forecast : null;
      var progress = isObject(job.progress) ? job.progress : {};
      var state = String(job.status || "");
      var stateCell = el("td", null, el("span", { "class": "state state-" + state.toLowerCase() }, state));
      if (isObject(job.error)) append(stateCell, el("span", { "class": "state-detail" }, " " + (job.error.code || "")));
      var link = el("a", { href: "/?task=" + encodeURIComponent(job.task_id), title: String(job.task_id) },
        "View ", el("code", { "class": "task-id" }, String(job.task_id).slice(0, 8)));
      link.setAttribute("aria-label", "View job " + job.task_id);
      append(tbody, el("tr", { "data-task-id": job.task_id },
        el("td", null, when(job.submitted_at)),
        stateCell,
        el("td", null, (progress.stage || "—") + " · " + (progress.percent === undefined ? "—" : progress.percent + "%")),
        el("td", null, params.model || "—"),
        el("td", null, groupsText(params)),
        el("td", { "class": "num" }, params.horizon === undefined ? "—" : String(params.horizon)),
        el("td", { "class": "num" }, levelPct(params.level)),
        el("td", { "class": "wrap" }, el("span", { "class": "nowrap" }, params.start_date || "…"), " – ",
          el("span", { "class": "nowrap" }, params.end_date || "…")),
        el("td", { "class": "num" }, summary ? fmt(summary.next_month_forecast) + " (" + (summary.period || "") + ")" : "—"),
        el("td", null, link)));
    });
  }

  /** "category › product_id (units)" for a grouped job, "total" for a forecast of the total alone. */
  function groupsText(params) {
    var fields = Array.isArray(params.group_by) ? params.group_by : [];
    if (fields.length) return fields.join(" › ") + " (" + (params.measure || "revenue") + ")";
    if (params.measure && params.measure !== "revenue") return "total (" + params.measure + ")";
    return Object.keys(params).length ? "total" : "—"; // no params: a job queued straight into Redis
  }

  function initJobsPage() {
    mountKeyField();
    $("jobs-form").addEventListener("submit", function (event) {
      event.preventDefault();
      loadJobs(true);
    });
    loadJobs(true);
  }

  // What series_table.js borrows: one way to reach the API and to draw, for both panels.
  window.SalesForecast = {
    el: el, append: append, clear: clear, show: show, fmt: fmt, pct: pct, levelPct: levelPct,
    signedPct: signedPct, isObject: isObject, measureLabel: measureLabel, card: card, dl: dl,
    call: call, fetchFile: fetchFile, saveFile: saveFile, errorText: errorText,
    drawForecastChart: drawForecastChart, api: API
  };

  if (body.getAttribute("data-page") === "forecast") initForecastPage();
  else if (body.getAttribute("data-page") === "jobs") initJobsPage();
})();
