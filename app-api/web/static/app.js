// Small conveniences only: every page works the same without this script, and the server
// checks everything again.
(function () {
  "use strict";
  // Tell the server this browser's time zone, so pages write times as the reader's clock
  // shows them. It grants nothing; without it pages use the server's default zone.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\/-]{1,96}$/.test(zone)) {
      document.cookie = "__Host-careledger-tz=" + zone + "; Path=/; Secure; SameSite=Strict; Max-Age=31536000";
    }
  } catch (e) { /* an old browser: the default zone is used */ }
  // Show only the fields of the chosen option (grant form, clinician entry form).
  function sync(form) {
    form.querySelectorAll("[data-for]").forEach(function (el) {
      var radio = document.getElementById(el.getAttribute("data-for"));
      if (radio) { el.hidden = !radio.checked; }
    });
  }
  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-for]")) { return; }
    form.addEventListener("change", function () { sync(form); });
    sync(form);
  });
  // "All my records" ticks every kind of record.
  var all = document.getElementById("cat-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=categories]").forEach(function (c) { c.checked = all.checked; });
    });
  }
  // Say, while typing, whether the confirmation words are right yet.
  var confirm = document.querySelector("input[data-phrase]");
  var hint = document.getElementById("confirm-hint");
  if (confirm && hint) {
    var want = confirm.getAttribute("data-phrase");
    var before = hint.textContent;
    hint.setAttribute("aria-live", "polite");
    confirm.addEventListener("input", function () {
      var ok = confirm.value.trim().toLowerCase() === want;
      hint.textContent = ok ? "The words match. The button below now deletes all your data." : before;
    });
  }
  // Put the keyboard focus on a problem, so screen readers announce it first.
  var problem = document.getElementById("problem");
  if (problem) { problem.setAttribute("tabindex", "-1"); problem.focus(); }
})();
