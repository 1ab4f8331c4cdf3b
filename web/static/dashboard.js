/*
 * The dashboard's script: the forecast page (/) and the recent jobs page (/jobs).
 *
 * A grouped job's series panel lives in series_table.js: this script tells it when a result is
 * shown or hidden ("forecast:shown" / "forecast:hidden" events on document) and lends it the
 * helpers below as window.SalesForecast, so both speak to the API and draw charts the same way.
 * The alerts panel (alerts.js) borrows them too, and asks which job is on screen (currentTask).
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
                    group_by: "group-by", measure: "measure", frequency: "frequency", holidays: "holidays", events: "events",
                    "inventory.lead_time": "lead-time", "inventory.review_period": "review-period",
                    "inventory.service_level": "service-level", inventory: "lead-time" };
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
   * (the pattern and the count come from shared/contract/schema/names.py through the input's data attributes).
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

  // ---- frequency, holidays and events (docs/api.md §10) --------------------------------------

  /** Each frequency's {noun, default_horizon, max_horizon, default_window}, as the server rendered them. */
  function frequencyLimits() {
    var select = $("frequency");
    try { return JSON.parse(select.getAttribute("data-limits") || "{}"); } catch (e) { return {}; }
  }

  function limitsOf(frequency) {
    return frequencyLimits()[frequency] || { noun: "month", default_horizon: 3, max_horizon: 24, default_window: 36 };
  }

  /** The horizon's label, bounds and help follow the frequency; an untouched default follows too. */
  function frequencyChanged(previous) {
    var frequency = $("frequency").value;
    var spec = limitsOf(frequency);
    var old = limitsOf(previous);
    var horizon = $("horizon");
    $("horizon-label").textContent = "Horizon (" + spec.noun + "s)";
    horizon.max = String(spec.max_horizon);
    $("horizon-help").textContent = "1 to " + spec.max_horizon + " (default " + spec.default_horizon + ").";
    if (!horizon.value || Number(horizon.value) === old.default_horizon || Number(horizon.value) > spec.max_horizon) {
      horizon.value = String(spec.default_horizon);
    }
    $("dates-help").textContent = "Leave both empty for the " + spec.default_window + " complete " + spec.noun +
      "s before today, plus the " + spec.noun + " to date.";
  }

  /** The horizon field against the chosen frequency's bounds: null when it is fine, else why not. */
  function horizonError(form) {
    var spec = limitsOf(form.elements.frequency.value);
    var value = Number(form.elements.horizon.value);
    if (!/^\s*\d+\s*$/.test(form.elements.horizon.value) || value < 1 || value > spec.max_horizon) {
      return "A whole number of " + spec.noun + "s from 1 to " + spec.max_horizon + ".";
    }
    return null;
  }

  var HOLIDAYS_PATTERN = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,3})?$/;
  /** The holidays field: {} (the server's default), {value: "DE-BY"} or {value: []} ("none"), or {error}. */
  function parseHolidays(input) {
    var text = input.value.trim();
    if (!text) return {};
    if (text.toLowerCase() === "none") return { value: [] };
    if (!HOLIDAYS_PATTERN.test(text)) return { error: "A country code, optionally with a subdivision: US, US-CA, DE-BY; or none." };
    return { value: text.toUpperCase() };
  }

  function isoDate(text) {
    if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
    var date = new Date(text + "T00:00:00Z");
    return isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text ? null : date;
  }

  /** The events textarea: {} (none), {value: [{name, start, end?}]}, or {error} naming the event, as the server would. */
  function parseEvents(input) {
    var text = input.value.trim();
    if (!text) return {};
    var list;
    try { list = JSON.parse(text); } catch (e) { return { error: "Not JSON: " + e.message }; }
    if (!Array.isArray(list)) return { error: "A JSON list of events: [{\"name\": …, \"start\": \"YYYY-MM-DD\"}]." };
    if (list.length > 500) return { error: "At most 500 events." };
    var events = [];
    for (var i = 0; i < list.length; i++) {
      var item = list[i];
      var at = "Event " + (i + 1) + ": ";
      if (!isObject(item)) return { error: at + "an object with name, start and, if it lasts, end." };
      var unknown = Object.keys(item).filter(function (k) { return ["name", "start", "end"].indexOf(k) < 0; });
      if (unknown.length) return { error: at + "unknown field “" + unknown[0] + "”." };
      if (typeof item.name !== "string" || !item.name.trim() || item.name.length > 100) return { error: at + "a name of 1 to 100 characters." };
      var start = isoDate(item.start);
      if (!start) return { error: at + "start must be a date, YYYY-MM-DD." };
      var event = { name: item.name, start: item.start };
      if (item.end !== undefined && item.end !== null) {
        var end = isoDate(item.end);
        if (!end) return { error: at + "end must be a date, YYYY-MM-DD." };
        if (end < start) return { error: at + "end is before start." };
        if ((end - start) / 86400000 > 365) return { error: at + "at most 366 days long." };
        event.end = item.end;
      }
      events.push(event);
    }
    return { value: events };
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
    // A monthly request without holidays or events keeps its body as it always was.
    if (form.elements.frequency.value !== "month") payload.frequency = form.elements.frequency.value;
    var holidays = parseHolidays(form.elements.holidays);
    if (holidays.value !== undefined) payload.holidays = holidays.value;
    var events = parseEvents(form.elements.events);
    if (events.value && events.value.length) payload.events = events.value;
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
    // The form is novalidate: every field's message is on the page, in the same place as the server's.
    var level = Number(form.elements.level.value);
    var levelError = form.elements.level.value.trim() && level >= 50 && level <= 99.9 ? null : "A level from 50 to 99.9 (%).";
    var checks = [["horizon", horizonError(form)], ["level", levelError], ["group_by", groups.error],
                  ["holidays", parseHolidays(form.elements.holidays).error], ["events", parseEvents(form.elements.events).error]];
    var failed = checks.filter(function (check) { return check[1]; });
    if (failed.length) {
      announce("The forecast was not submitted.");
      failed.slice().reverse().forEach(function (check) { fieldError(check[0], check[1]); }); // the focus ends on the first
      return;
    }
    setBusy(true);
    announce("Submitting the forecast…");
    call("POST", API, formBody(form)).then(function (result) {
      setBusy(false);
      if (result.status === 202 && result.data && result.data.task_id) {
        watch(result.data.task_id, result.data.events_url);
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

  /**
   * Follow a job: over its live-update stream (events_url, an EventSource) when there is one,
   * else by polling its status URL. A stream that is refused (503 past the server's limit, an
   * expired token) or drops before its `done` event is closed, and polling takes over for that job.
   */
  function watch(taskId, eventsUrl) {
    stopFollowing();
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
    if (eventsUrl && follow(taskId, eventsUrl)) return;
    poll(taskId);
  }

  var stream = null;         // the EventSource of the job followed, while it is open
  var streamRefused = {};    // task id -> true once its stream failed: poll that job from then on

  function stopFollowing() {
    if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
    if (stream) { stream.close(); stream = null; }
  }

  /** Open the job's stream; false when this browser or this job cannot have one. */
  function follow(taskId, eventsUrl) {
    if (!window.EventSource || streamRefused[taskId]) return false;
    var source = new EventSource(eventsUrl);
    var status = "PENDING";
    var progress = { stage: "queued", percent: 0 };
    stream = source;
    function data(event) {
      try { return JSON.parse(event.data); } catch (e) { return null; }
    }
    source.addEventListener("status", function (event) {
      var body = data(event);
      if (taskId !== currentTask || !body) return;
      status = String(body.status || status);
      setProgress(progress, status);
    });
    source.addEventListener("progress", function (event) {
      var body = data(event);
      if (taskId !== currentTask || !body) return;
      progress = body;
      setProgress(progress, status);
    });
    source.addEventListener("done", function (event) {
      source.close();
      if (stream === source) stream = null;
      var doc = data(event);
      if (taskId !== currentTask) return;
      if (doc) finish(taskId, doc); else poll(taskId);
    });
    source.addEventListener("error", function () {
      // Refused, or cut before `done`: EventSource would retry on its own; poll instead.
      source.close();
      if (stream === source) stream = null;
      if (taskId !== currentTask) return;
      streamRefused[taskId] = true;
      poll(taskId);
    });
    return true;
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
        if (doc.events_url && follow(taskId, doc.events_url)) return; // a reopened job: live from here
        var wait = Number(result.headers.get("Retry-After")) || 1;
        pollTimer = setTimeout(function () { poll(taskId); }, Math.min(Math.max(wait, 0.5), 5) * 1000);
        return;
      }
      finish(taskId, doc);
    }, function () {
      if (taskId !== currentTask) return;
      announce("The service could not be reached; retrying…");
      pollTimer = setTimeout(function () { poll(taskId); }, 2000);
    });
  }

  /** A finished job's status document (polled, or the stream's `done`): the result or why not. */
  function finish(taskId, doc) {
    setProgress(doc.progress || {}, doc.status);
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
    var frequency = frequencyOf(forecast);
    var noun = frequency; // "month", "week", "day"
    // The period in progress: partial_period for every frequency (§10); partial_month from a monthly
    // result of a service that wrote only the old name.
    var partial = isObject(quality.partial_period) ? quality.partial_period
      : isObject(quality.partial_month) ? quality.partial_month : null;
    var meta = isObject(data.meta) ? data.meta : {};
    var level = forecast.confidence_level;
    // A grouped job's figures are the total's, from sale lines, scored by one holdout backtest
    // (docs/grouped.md), not the rolling origins of a single forecast: the labels say which.
    var grouped = isObject(data.hierarchy);
    var what = measureLabel(grouped ? data.hierarchy.measure : null);
    var rows = grouped ? "Sale lines" : "Rows";

    show($("results"), true);
    $("results-title").textContent = (grouped ? "Forecast of the total for " : "Forecast for ") + (forecast.period || "next " + noun);
    $("numbers-period").textContent = capitalise(noun);
    $("chart-caption").textContent = capitalise(frequency === "month" ? "monthly" : frequency === "week" ? "weekly" : "daily") +
      " sales: complete " + noun + "s, the forecast with its interval, and the " + noun + " in progress (shaded, not used for training)" +
      (frequency === "month" ? "" : "; holidays and events of the horizon are starred and shaded, the range slider below the chart zooms") +
      ". Anomalies of the history are marked ▲ (spike) and ▼ (dip). The same numbers are in the table below.";
    $("accuracy-title").textContent = grouped ? "Accuracy (holdout backtest, one origin)" : "Accuracy (rolling-origin backtest)";
    $("numbers-sales").textContent = what;

    var summary = $("summary");
    clear(summary);
    append(summary, [
      card("Next " + noun + " (" + (forecast.period || "—") + ")", fmt(nextForecast(forecast)),
           "Range " + fmt(forecast.expected_range_low) + " – " + fmt(forecast.expected_range_high) + " (" + levelPct(level) + " interval)"),
      card("Model accuracy", pct(forecast.model_accuracy), grouped
        ? "100 − WAPE of a holdout backtest, 1 to k months ahead"
        : "100 − WAPE of one-step-ahead backtests"),
      card("Model", String(forecast.model || "—"), metrics.backtest_origins
        ? metrics.backtest_origins + (metrics.backtest_origins === 1 ? " backtest origin" : " backtest origins") : "no backtest"),
      card("Forecast growth", signedPct(forecast.forecast_growth_rate), "next " + noun + " vs the last complete " + noun)
    ]);

    var anomalies = Array.isArray(data.anomalies) ? data.anomalies.filter(isObject) : [];
    drawForecastChart($("chart"), {
      actual: actual.map(function (p) { return { period: p.period, value: p.total_sales, start: p.start }; }),
      horizon: horizon, forecast: forecast, measure: what, anomalies: anomalies,
      partial: partial ? { period: partial.period, value: partial.total_sales, start: partial.start, end: partial.end } : null
    });

    renderComponents("", forecast, what, noun);

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
      ["Last complete " + noun + " vs the one before", signedPct(forecast.growth_rate)],
      ["Forecast vs the last complete " + noun, signedPct(forecast.forecast_growth_rate)]
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
      [capitalise(noun) + "s without sales (zero-filled)", zeroFilled.length
        ? (zeroFilled.length > 20 ? zeroFilled.length + ": " + zeroFilled.slice(0, 20).join(", ") + ", …" : zeroFilled.join(", ")) : "none"],
      ["Anomalies (▲ spike, ▼ dip)", anomalies.length ? anomalies.map(function (a) {
        return a.period + " " + (a.kind === "dip" ? "▼" : "▲") + " " + fmt(a.value) + " (expected " + fmt(a.expected) + ")";
      }).join("; ") : "none"],
      [capitalise(noun) + " in progress", partial
        ? partial.period + ": " + fmt(partial.total_sales) + " from " + fmt(partial.transaction_count, 0) + " transactions" +
          (partial.days_elapsed && noun !== "day" ? " (" + partial.days_elapsed + " of " + (partial.days_in_month || partial.days_in_period) + " days)" : "") +
          "; not used for training"
        : "none"]
    ]);

    renderTable(actual, horizon, partial, anomalies, noun);

    $("meta").textContent = "Generated " + when(meta.generated_at) + (meta.cached ? " (from the cache)" : "") +
      " · model version " + (meta.model_version || "—") + " · source " + (meta.source || "—") +
      " · data fingerprint " + String(meta.data_fingerprint || "—").slice(0, 12);
  }

  function capitalise(text) { return String(text).charAt(0).toUpperCase() + String(text).slice(1); }

  /** "actual", or "actual · spike (expected 1,234.00)" for an anomaly of the history. */
  function actualKind(anomaly) {
    return anomaly ? "actual · " + (anomaly.kind === "dip" ? "dip" : "spike") + " (expected " + fmt(anomaly.expected) + ")" : "actual";
  }

  /** "forecast", or "forecast · Independence Day, Summer sale" for a period with holidays or events. */
  function forecastKind(point) {
    var names = eventNames(point);
    return names.length ? "forecast · " + names.join(", ") : "forecast";
  }

  function renderTable(actual, horizon, partial, anomalies, noun) {
    var tbody = $("numbers").tBodies[0];
    clear(tbody);
    var flagged = {};
    (anomalies || []).forEach(function (a) { flagged[a.period] = a; });
    actual.forEach(function (row) {
      var anomaly = flagged[row.period];
      append(tbody, el("tr", anomaly ? { "class": "anomaly", "data-anomaly": anomaly.kind } : null,
        el("th", { scope: "row" }, row.period), el("td", null, actualKind(anomaly)),
        el("td", { "class": "num" }, fmt(row.total_sales)), el("td", { "class": "num" }, fmt(row.transaction_count, 0)),
        el("td", null, ""), el("td", null, "")));
    });
    if (partial) {
      append(tbody, el("tr", { "class": "partial" }, el("th", { scope: "row" }, partial.period),
        el("td", null, (noun || "month") + " to date (partial)"),
        el("td", { "class": "num" }, fmt(partial.total_sales)), el("td", { "class": "num" }, fmt(partial.transaction_count, 0)),
        el("td", null, ""), el("td", null, "")));
    }
    horizon.forEach(function (row) {
      append(tbody, el("tr", { "class": eventNames(row).length ? "forecast event" : "forecast" }, el("th", { scope: "row" }, row.period),
        el("td", null, forecastKind(row)),
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

  var DAY_MS = 86400000;

  /** A result's frequency (docs/api.md §10): "month" unless it says "week" or "day". */
  function frequencyOf(forecast) {
    var f = isObject(forecast) ? forecast.frequency : null;
    return f === "week" || f === "day" ? f : "month";
  }

  /** The next period's forecast, under the name every frequency has (monthly results also say next_month_forecast). */
  function nextForecast(forecast) {
    return typeof forecast.next_period_forecast === "number" ? forecast.next_period_forecast : forecast.next_month_forecast;
  }

  function addDays(iso, days) {
    var date = new Date(String(iso).slice(0, 10) + "T00:00:00Z");
    return new Date(date.getTime() + days * DAY_MS).toISOString().slice(0, 10);
  }

  /** The Monday of an ISO week label, "2025-W03" -> "2025-01-13" (the week with 4 January is week 1). */
  function isoWeekStart(label) {
    var m = /^(\d{4})-W(\d{2})$/.exec(String(label));
    if (!m) return String(label);
    var jan4 = new Date(Date.UTC(Number(m[1]), 0, 4));
    var monday = jan4.getTime() - ((jan4.getUTCDay() || 7) - 1) * DAY_MS;
    return new Date(monday + (Number(m[2]) - 1) * 7 * DAY_MS).toISOString().slice(0, 10);
  }

  /** Where a period sits on the date axis: a month's label as it is ("2025-01", which plotly reads as
   *  that month), a week's Monday (its `start`, else from the label), a day's date. */
  function periodX(point, frequency) {
    if (frequency === "week") return point.start || isoWeekStart(point.period);
    return String(point.period);
  }

  /** [first day, the day after the last] of a period, for shading it. */
  function periodSpan(point, frequency) {
    if (frequency === "month") return [monthStart(point.period), monthStart(point.period, 1)];
    var start = periodX(point, frequency);
    return [start, addDays(start, frequency === "week" ? 7 : 1)];
  }

  function eventNames(point) {
    return Array.isArray(point.events) ? point.events.filter(function (n) { return typeof n === "string" && n; }) : [];
  }

  /**
   * A forecast chart in `chart`: the history, the forecast with its interval band, the holidays and
   * events of the horizon (markers and shaded periods), the history's anomalies (spike and dip
   * markers) and, for the shop's total, the period in progress (shaded). opts: {actual: [{period,
   * value, start?}], horizon, forecast (the §5 block), partial: {period, value, start?, end?} | null,
   * anomalies: [{period, value, expected, kind}], measure: what the numbers count}. Weekly and
   * daily charts get a range slider and range buttons, and open on the latest stretch.
   * Each trace's `meta` names it, for the tests and for anyone reading chart.data.
   */
  function drawForecastChart(chart, opts) {
    if (!window.Plotly) {
      chart.textContent = "The chart library did not load; the numbers are in the table below.";
      return;
    }
    var actual = opts.actual, horizon = opts.horizon, partial = opts.partial, forecast = opts.forecast;
    var frequency = frequencyOf(forecast);
    var measure = opts.measure || "Sales";
    var noun = measure.toLowerCase();
    var levelText = levelPct(forecast.confidence_level);
    var periodic = frequency === "month" ? { xperiod: "M1", xperiodalignment: "middle" } // each point sits mid-month
      : frequency === "week" ? { xperiod: 7 * DAY_MS, xperiod0: "2000-01-03", xperiodalignment: "middle" } // mid-week
      : {};
    function trace(extra) { return Object.assign({ type: "scatter" }, periodic, extra); }
    function xs(points) { return points.map(function (p) { return periodX(p, frequency); }); }
    function labels(points) { return points.map(function (p) { return plotText(p.period); }); }
    // A week's or a day's label is not what the date axis shows: hover says it.
    var labelled = frequency === "month" ? "" : "%{customdata} ";
    var hx = xs(horizon);
    var traces = [
      trace({ meta: "interval_low", name: plotText(levelText + " interval, low"), x: hx, customdata: labels(horizon),
              y: horizon.map(function (p) { return p.low; }), mode: "lines", line: { width: 0, color: "#c2410c" },
              showlegend: false, hovertemplate: "low %{y:,.2f}<extra></extra>" }),
      trace({ meta: "interval_high", legendrank: 3, name: plotText(levelText + " interval"), x: hx, customdata: labels(horizon),
              y: horizon.map(function (p) { return p.high; }), mode: "lines", line: { width: 0, color: "#c2410c" },
              fill: "tonexty", fillcolor: "rgba(194, 65, 12, 0.18)", hovertemplate: "high %{y:,.2f}<extra></extra>" }),
      trace({ meta: "actual", legendrank: 1, name: "Actual " + noun, x: xs(actual), customdata: labels(actual),
              y: actual.map(function (p) { return p.value; }), mode: frequency === "day" ? "lines" : "lines+markers",
              line: { color: "#1d4ed8", width: frequency === "day" ? 1.5 : 2 }, marker: { size: 5 },
              hovertemplate: labelled + "actual %{y:,.2f}<extra></extra>" }),
      trace({ meta: "forecast", legendrank: 2, name: plotText("Forecast (" + (forecast.model || "model") + ")"), x: hx,
              customdata: labels(horizon), y: horizon.map(function (p) { return p.forecast; }),
              mode: frequency === "day" ? "lines" : "lines+markers",
              line: { color: "#c2410c", width: 2, dash: "dash" }, marker: { size: 7, symbol: "diamond" },
              hovertemplate: labelled + "forecast %{y:,.2f}<extra></extra>" })
    ];
    var shapes = [];
    var annotations = [];

    // Holidays and events of the horizon (docs/api.md §10): a star above the interval, the period shaded.
    var marked = horizon.filter(function (p) { return eventNames(p).length; });
    if (marked.length) {
      traces.push(trace({ meta: "events", legendrank: 5, name: "Holiday or event", x: xs(marked),
        y: marked.map(function (p) { return typeof p.high === "number" ? p.high : p.forecast; }),
        customdata: marked.map(function (p) { return plotText(p.period + ": " + eventNames(p).join(", ")); }),
        // A name is written once per run of periods it covers (a three-day sale: on its first day).
        text: marked.map(function (p, i) {
          var names = eventNames(p).join(", ");
          return i && eventNames(marked[i - 1]).join(", ") === names ? "" : plotText(names);
        }),
        mode: marked.length <= 24 ? "markers+text" : "markers", textposition: "top center", textfont: { size: 11, color: "#6d28d9" },
        marker: { size: 11, symbol: "star", color: "#7c3aed" }, cliponaxis: false,
        hovertemplate: "%{customdata}<extra></extra>" }));
      marked.forEach(function (p) {
        var span = periodSpan(p, frequency);
        shapes.push({ type: "rect", xref: "x", yref: "paper", x0: span[0], x1: span[1], y0: 0, y1: 1,
          fillcolor: "rgba(124, 58, 237, 0.10)", line: { width: 0 }, layer: "below" });
      });
    }

    // Anomalies of the history (docs/api.md §11): spikes up, dips down, with what was expected.
    var anomalies = (Array.isArray(opts.anomalies) ? opts.anomalies : []).filter(function (a) {
      return isObject(a) && typeof a.value === "number";
    });
    if (anomalies.length) {
      var starts = {};
      actual.forEach(function (p) { if (p.start) starts[p.period] = p.start; });
      traces.push(trace({ meta: "anomalies", legendrank: 6, name: "Anomaly (spike ▲, dip ▼)",
        x: anomalies.map(function (a) { return periodX({ period: a.period, start: starts[a.period] }, frequency); }),
        y: anomalies.map(function (a) { return a.value; }), mode: "markers",
        marker: { size: 13, symbol: anomalies.map(function (a) { return a.kind === "dip" ? "triangle-down" : "triangle-up"; }),
                  color: anomalies.map(function (a) { return a.kind === "dip" ? "#b45309" : "#dc2626"; }),
                  line: { width: 1, color: "#ffffff" } },
        customdata: anomalies.map(function (a) {
          return plotText(a.period + " " + (a.kind === "dip" ? "dip" : "spike") + ": " + fmt(a.value) + " against " +
                          fmt(a.expected) + " expected");
        }),
        hovertemplate: "%{customdata}<extra></extra>" }));
    }

    if (partial && partial.period) {
      var inProgress = frequency === "month" ? "Month to date (partial)" : (frequency === "week" ? "Week" : "Day") + " to date (partial)";
      var span = frequency === "month" ? periodSpan(partial, frequency)
        : [partial.start || periodX(partial, frequency), partial.end ? addDays(partial.end, 1) : periodSpan(partial, frequency)[1]];
      traces.push(trace({ meta: "partial_month", legendrank: 4, name: inProgress, x: [periodX(partial, frequency)],
        customdata: [plotText(partial.period)], y: [partial.value], mode: "markers",
        marker: { size: 10, symbol: "circle-open", color: "#475569", line: { width: 2 } },
        hovertemplate: labelled + inProgress.split(" (")[0].toLowerCase() + " %{y:,.2f}<extra></extra>" }));
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: span[0], x1: span[1],
        y0: 0, y1: 1, fillcolor: "rgba(100, 116, 139, 0.15)", line: { width: 0 }, layer: "below" });
      if (frequency === "month") {
        annotations.push({ xref: "x", yref: "paper", x: monthStart(partial.period, 0).slice(0, 8) + "15", y: 1,
          yanchor: "bottom", text: "in progress", showarrow: false, font: { size: 11, color: "#334155" } });
      }
    }
    var xaxis = { type: "date", gridcolor: "#e2e8f0" };
    var legend = { orientation: "h", x: 0, y: -0.15, traceorder: "normal" };
    var margin = { t: 28, r: 16, b: 48, l: 72 };
    if (frequency === "month") {
      Object.assign(xaxis, { tickformat: "%b %Y", ticklabelmode: "period" });
    } else {
      // Years of days or weeks: a range slider under the axis and range buttons above it; the chart
      // opens on the latest stretch of history and the whole horizon.
      var buttons = frequency === "day"
        ? [{ count: 1, label: "1m", step: "month", stepmode: "backward" }, { count: 3, label: "3m", step: "month", stepmode: "backward" },
           { count: 6, label: "6m", step: "month", stepmode: "backward" }, { count: 1, label: "1y", step: "year", stepmode: "backward" },
           { step: "all", label: "all" }]
        : [{ count: 6, label: "6m", step: "month", stepmode: "backward" }, { count: 1, label: "1y", step: "year", stepmode: "backward" },
           { count: 2, label: "2y", step: "year", stepmode: "backward" }, { step: "all", label: "all" }];
      Object.assign(xaxis, {
        rangeslider: { visible: true, thickness: 0.08, bgcolor: "#f8fafc" },
        rangeselector: { buttons: buttons, x: 0, xanchor: "left", y: 1.02, yanchor: "bottom", font: { size: 12 } },
        hoverformat: frequency === "week" ? "week of %d %b %Y" : "%a %d %b %Y",
        tickformatstops: frequency === "week"
          ? [{ dtickrange: [null, 35 * DAY_MS], value: "%d %b<br>%Y" }, { dtickrange: [35 * DAY_MS, null], value: "%b %Y" }]
          : [{ dtickrange: [null, 2 * DAY_MS], value: "%a %d %b" }, { dtickrange: [2 * DAY_MS, 35 * DAY_MS], value: "%d %b<br>%Y" },
             { dtickrange: [35 * DAY_MS, null], value: "%b %Y" }]
      });
      var all = xs(actual).concat(hx).filter(Boolean).sort();
      var shownDays = frequency === "day" ? 120 : 2 * 365;
      if (all.length) {
        var last = all[all.length - 1];
        var first = addDays(last, -shownDays);
        xaxis.range = [first < all[0] ? addDays(all[0], -1) : first, addDays(last, frequency === "week" ? 7 : 1)];
      }
      legend = { orientation: "h", x: 0, y: -0.32, yanchor: "top", traceorder: "normal" };
      margin = { t: 40, r: 16, b: 40, l: 72 };
    }
    var layout = {
      margin: margin,
      height: (opts.height || 420) + (frequency === "month" ? 0 : 120),
      hovermode: "x unified",
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 13, color: "#0f172a" },
      paper_bgcolor: "#ffffff",
      plot_bgcolor: "#ffffff",
      xaxis: xaxis,
      yaxis: { title: { text: measure }, rangemode: "tozero", gridcolor: "#e2e8f0", tickformat: ",.0f" },
      legend: legend,
      shapes: shapes,
      annotations: annotations
    };
    var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
    if (frequency !== "month" && xaxis.range) layout.yaxis.range = visibleYRange(traces, xaxis.range);
    window.Plotly.react(chart, traces, layout, config);
    if (frequency !== "month") followXRange(chart);
    chart.setAttribute("data-frequency", frequency);
    var periods = { month: "monthly", week: "weekly", day: "daily" }[frequency];
    chart.setAttribute("aria-label", "Chart of " + periods + " " + noun + (opts.subject ? " of " + opts.subject : "") +
      " with the forecast for " + (forecast.period || "the next " + frequency) + ": " + fmt(nextForecast(forecast)) +
      " (range " + fmt(forecast.expected_range_low) + " to " + fmt(forecast.expected_range_high) + ")" +
      (marked.length ? "; holidays and events: " + marked.map(function (p) { return p.period + " " + eventNames(p).join(", "); }).join("; ") : "") +
      (anomalies.length ? "; anomalies: " + anomalies.map(function (a) { return a.period + " " + a.kind; }).join(", ") : "") + ".");
  }

  // The parts of a forecast (docs/api.md §11), in the order they are stacked, with their colours.
  // [field, column and legend label, colour, what a sentence calls it]
  var COMPONENTS = [["trend", "Trend", "#1d4ed8", "the trend"], ["seasonal", "Seasonal", "#059669", "the season"],
                    ["holidays", "Holidays", "#7c3aed", "holidays"], ["events", "Events", "#db2777", "events"]];

  /**
   * What drives a forecast, under its chart: the §11 `components` of a forecast block as a stacked
   * bar chart (parts below 0 stack downwards) with the forecast as a line, and as a table; or a
   * sentence saying the model does not decompose (components null). `prefix` picks the elements:
   * "" for the job's total, "series-" for the chosen series of a grouped job.
   */
  function renderComponents(prefix, forecast, measure, noun) {
    var section = $(prefix + "components");
    if (!section) return;
    var horizon = Array.isArray(forecast.horizon) ? forecast.horizon.filter(isObject) : [];
    var parts = Array.isArray(forecast.components) ? forecast.components.filter(isObject) : [];
    var figure = $(prefix + "components-figure"), details = $(prefix + "components-details");
    var chart = $(prefix + "components-chart"), note = $(prefix + "components-note");
    show(section, true);
    if (!parts.length) {
      section.setAttribute("data-components", "none");
      note.textContent = "The model (" + String(forecast.model || "—") + ") does not split its forecast into trend, season, " +
        "holidays and events: it is a blend or a state-space model, whose parts would be made up. Weekly and daily models, " +
        "and the linear one, do.";
      show(figure, false); show(details, false);
      if (window.Plotly && chart.data) window.Plotly.purge(chart);
      return;
    }
    section.setAttribute("data-components", "shown");
    var names = COMPONENTS.filter(function (c) { return parts.some(function (p) { return typeof p[c[0]] === "number"; }); });
    var what = (measure || "Sales").toLowerCase();
    note.textContent = "Each " + noun + "'s forecast as the sum of its parts, in " + what + ": the trend" +
      (names.length > 1 ? ", and what " : "") +
      names.slice(1).map(function (c) { return c[3]; }).join(", ").replace(/, ([^,]*)$/, " and $1") +
      (names.length > 1 ? " add (above 0) or take away (below 0)." : " (the model has no other part).");
    show(figure, true); show(details, true);
    var x = parts.map(function (p) { return plotText(p.period); });
    if (window.Plotly) {
      var traces = names.map(function (c) {
        return { type: "bar", meta: c[0], name: c[1], x: x, marker: { color: c[2] },
                 y: parts.map(function (p) { return typeof p[c[0]] === "number" ? p[c[0]] : 0; }),
                 hovertemplate: c[1].toLowerCase() + " %{y:,.2f}<extra></extra>" };
      });
      traces.push({ type: "scatter", meta: "forecast", name: "Forecast (their sum)", x: x, mode: "lines+markers",
        y: parts.map(function (p, i) { return horizon[i] ? horizon[i].forecast : null; }),
        line: { color: "#c2410c", width: 2, dash: "dash" }, marker: { size: 5, symbol: "diamond" },
        hovertemplate: "forecast %{y:,.2f}<extra></extra>" });
      window.Plotly.react(chart, traces, {
        barmode: "relative", height: 300, margin: { t: 16, r: 16, b: 64, l: 72 }, hovermode: "x unified",
        font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#0f172a" },
        xaxis: { type: "category", tickangle: -45, automargin: true },
        yaxis: { title: { text: measure || "Sales" }, tickformat: ",.0f", gridcolor: "#e2e8f0", zerolinecolor: "#64748b" },
        legend: { orientation: "h", x: 0, y: 1.12 }
      }, { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] });
      chart.setAttribute("aria-label", "Stacked chart of the forecast's parts per " + noun + ": " +
        names.map(function (c) { return c[1].toLowerCase(); }).join(", ") + ".");
    } else {
      chart.textContent = "The chart library did not load; the parts are in the table.";
    }
    var table = $(prefix + "components-table");
    var head = table.tHead.rows[0];
    clear(head);
    append(head, [el("th", { scope: "col" }, capitalise(noun))].concat(names.map(function (c) {
      return el("th", { scope: "col", "class": "num" }, c[1]);
    })).concat([el("th", { scope: "col", "class": "num" }, "Forecast")]));
    var tbody = table.tBodies[0];
    clear(tbody);
    parts.forEach(function (p, i) {
      append(tbody, el("tr", { "data-period": String(p.period) }, [el("th", { scope: "row" }, String(p.period))].concat(
        names.map(function (c) { return el("td", { "class": "num", "data-part": c[0] }, typeof p[c[0]] === "number" ? fmt(p[c[0]]) : "—"); }),
        [el("td", { "class": "num" }, horizon[i] ? fmt(horizon[i].forecast) : "—")])));
    });
  }

  /** [0, a little over the highest point] of the traces between two dates: a zoomed chart of days
   *  is not flattened by a spike (or a year of growth) outside what it shows. */
  function visibleYRange(traces, range) {
    var from = String(range[0]).slice(0, 10), to = String(range[1]).slice(0, 10);
    var top = 0;
    traces.forEach(function (t) {
      if (t.meta === "interval_low") return;
      (t.x || []).forEach(function (x, i) {
        var y = t.y[i];
        var day = String(x).slice(0, 10);
        if (day >= from && day <= to && typeof y === "number" && y > top) top = y;
      });
    });
    return [0, (top || 1) * 1.1];
  }

  /** Weekly and daily charts: when the range slider, the buttons or a zoom move the date axis, the
   *  value axis fits what is shown (plotly.js keeps the whole history's otherwise). Bound once per chart. */
  function followXRange(chart) {
    if (chart.getAttribute("data-follows-x") === "true" || typeof chart.on !== "function") return;
    chart.setAttribute("data-follows-x", "true");
    chart.on("plotly_relayout", function (change) {
      if (!change || chart.getAttribute("data-frequency") === "month") return;
      if (change["xaxis.autorange"]) { window.Plotly.relayout(chart, { "yaxis.autorange": true }); return; }
      var range = change["xaxis.range"] || (change["xaxis.range[0]"] !== undefined ? [change["xaxis.range[0]"], change["xaxis.range[1]"]] : null);
      if (!range) return; // our own relayout of the value axis, or another change
      window.Plotly.relayout(chart, { "yaxis.range": visibleYRange(chart.data, range) });
    });
  }

  function initForecastPage() {
    mountKeyField();
    $("forecast-form").addEventListener("submit", submitForecast);
    var frequency = $("frequency");
    var shownFrequency = frequency.value;
    frequency.addEventListener("change", function () { frequencyChanged(shownFrequency); shownFrequency = frequency.value; });
    frequencyChanged(shownFrequency);
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
        el("td", { "class": "num" }, params.horizon === undefined ? "—" : String(params.horizon) +
          (params.frequency && params.frequency !== "month" ? " " + params.frequency + (params.horizon === 1 ? "" : "s") : "")),
        el("td", { "class": "num" }, levelPct(params.level)),
        el("td", { "class": "wrap" }, el("span", { "class": "nowrap" }, params.start_date || "…"), " – ",
          el("span", { "class": "nowrap" }, params.end_date || "…")),
        el("td", { "class": "num" }, summary ? fmt(nextForecast(summary)) + " (" + (summary.period || "") + ")" : "—"),
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
    drawForecastChart: drawForecastChart, renderComponents: renderComponents, api: API, frequencyOf: frequencyOf, nextForecast: nextForecast,
    eventNames: eventNames, actualKind: actualKind, forecastKind: forecastKind, capitalise: capitalise,
    currentTask: function () { return currentTask; }, savedKey: savedKey
  };

  if (body.getAttribute("data-page") === "forecast") initForecastPage();
  else if (body.getAttribute("data-page") === "jobs") initJobsPage();
})();
