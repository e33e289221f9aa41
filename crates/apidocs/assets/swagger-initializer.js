// Starts Swagger UI on this server's own OpenAPI document. A file rather than an inline script,
// so a Content-Security-Policy without 'unsafe-inline' scripts can serve the page.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The default validator badge loads an image from validator.swagger.io: none offline.
    validatorUrl: null,
  });
};
