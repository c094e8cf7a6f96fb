// Start Swagger UI on /docs (a file, not an inline script: the Content-Security-Policy allows none).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // no badge from validator.swagger.io: /docs fetches nothing from outside
  });
})();
