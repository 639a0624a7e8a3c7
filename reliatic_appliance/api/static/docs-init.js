/*
 * Reliatic Appliance: initialises the vendored Swagger UI on GET /api/docs.
 *
 * This lives in its own file, not in an inline <script>, so the page works under a
 * Content-Security-Policy of `script-src 'self'`. Nothing here reaches beyond the appliance:
 * the plant LAN has no internet access.
 */
(function () {
  "use strict";

  function start() {
    window.ui = window.SwaggerUIBundle({
      url: "/api/v1/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      // "Try it out" stays available but is off until the reader switches it on.
      tryItOutEnabled: false,
      // The validator badge sends the document to validator.swagger.io: no internet here.
      validatorUrl: null,
      // Never load another document named in the page's query string (?url=...).
      queryConfigEnabled: false,
      // Do not keep an API key entered under "Authorize" in localStorage.
      persistAuthorization: false,
      displayRequestDuration: true,
      defaultModelsExpandDepth: 0
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
