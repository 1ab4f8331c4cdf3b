/*
 * /docs: Swagger UI on this server's /openapi.json (no inline script: the page's CSP runs only
 * files from this origin).
 *
 * The API key: the dashboard keeps the key a person typed in this tab's sessionStorage; /docs
 * uses the same one. A saved key fills Swagger UI's Authorize dialog when the page opens, and a
 * key authorized in the dialog is saved for the dashboard's pages too (logging out forgets it).
 */
(function () {
  "use strict";

  var KEY_STORAGE = "sales-forecast.api-key"; // the dashboard's (web/static/dashboard.js)
  var root = document.getElementById("swagger-ui");
  var authRequired = root.getAttribute("data-auth-required") === "true";

  function savedKey() {
    try { return sessionStorage.getItem(KEY_STORAGE) || ""; } catch (e) { return ""; }
  }
  function saveKey(key) {
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key); else sessionStorage.removeItem(KEY_STORAGE);
    } catch (e) { /* storage disabled: the key lives in the dialog only */ }
  }

  /** The key in an authorize payload: {apiKeyHeader: {value: "..."}} or {bearerAuth: {value: "..."}}. */
  function keyIn(payload) {
    var found = "";
    Object.keys(payload || {}).forEach(function (name) {
      var value = payload[name] && payload[name].value;
      if (typeof value === "string" && value.trim()) found = value.trim();
    });
    return found;
  }

  function KeepTheKey() {
    return {
      statePlugins: {
        auth: {
          wrapActions: {
            authorize: function (original) {
              return function (payload) {
                var key = keyIn(payload);
                if (key) saveKey(key);
                return original(payload);
              };
            },
            logout: function (original) {
              return function (payload) {
                saveKey("");
                return original(payload);
              };
            }
          }
        }
      }
    };
  }

  var ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: false,
    validatorUrl: null, // Swagger UI would otherwise ask a public validator about the document
    tryItOutEnabled: true,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    plugins: [KeepTheKey],
    onComplete: function () {
      var key = savedKey();
      if (authRequired && key) ui.preauthorizeApiKey("apiKeyHeader", key);
    }
  });
  window.docsUi = ui; // for the browser tests and the curious
})();
