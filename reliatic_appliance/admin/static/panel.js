/* Reliatic admin panel: the copy button beside a secret shown once. Vendored with the
   package (no inline script: the pages' Content-Security-Policy forbids it). Without
   JavaScript the button stays hidden and the secret is selectable in its field. */
(function () {
  "use strict";

  function reveal(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function copied(button, ok) {
    button.textContent = ok ? "Copied" : "Select and copy it";
    window.setTimeout(function () { button.textContent = "Copy"; }, 2500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    field.focus();
    field.select();
    // The Clipboard API needs a secure context (HTTPS or localhost); on a plant LAN over
    // plain HTTP the older execCommand still copies the selected text.
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { copied(button, true); },
        function () { copied(button, document.execCommand("copy")); }
      );
    } else {
      copied(button, document.execCommand("copy"));
    }
  });

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSwap", function (event) { reveal(event.target); });
})();
