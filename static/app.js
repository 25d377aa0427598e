// Progressive enhancement only: every page works without this script.
"use strict";
(function () {
  // Times: shown in the browser's locale, UTC on hover; "relative" ones as "3 minutes ago".
  var units = [["year", 31536e6], ["month", 2592e6], ["day", 864e5], ["hour", 36e5], ["minute", 6e4]];
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    el.title = el.getAttribute("datetime");
    if (el.dataset.relative !== undefined && rtf) {
      var diff = when - Date.now();
      for (var i = 0; i < units.length; i++) {
        if (Math.abs(diff) >= units[i][1] || i === units.length - 1) {
          el.textContent = rtf.format(Math.round(diff / units[i][1]), units[i][0]);
          break;
        }
      }
    } else {
      el.textContent = when.toLocaleString();
    }
  });
  // Confirmations for destructive forms.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();

// The show-once key: hidden by default once scripts run, with Show/Hide and Copy.
(function () {
  document.querySelectorAll("[data-toggle-secret]").forEach(function (button) {
    var input = document.getElementById(button.dataset.toggleSecret);
    if (!input) return;
    input.type = "password";
    button.hidden = false;
    button.addEventListener("click", function () {
      var hidden = input.type === "password";
      input.type = hidden ? "text" : "password";
      button.textContent = hidden ? "Hide" : "Show";
    });
  });
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.dataset.copy);
    if (!input || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () {
        button.textContent = "Copied";
      });
    });
  });
})();

// The workspace switcher submits itself when a workspace is picked.
document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});

// "Go back" on an error page returns to the page the person came from, when there is one.
document.querySelectorAll("a[data-back]").forEach(function (link) {
  if (window.history.length < 2) return;
  link.addEventListener("click", function (event) {
    event.preventDefault();
    window.history.back();
  });
});

// The theme button: system → dark → light → system, remembered in this browser.
document.querySelectorAll("button[data-theme-toggle]").forEach(function (button) {
  var names = { "": "Auto", dark: "Dark", light: "Light" };
  var meaning = { "": "the system's setting", dark: "dark", light: "light" };
  var next = { "": "dark", dark: "light", light: "" };
  function show() {
    var current = document.documentElement.dataset.theme || "";
    // The accessible name ("Theme: Auto") contains the visible text, as it should.
    button.textContent = "";
    var mark = document.createElement("span");
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = "◐ ";
    var what = document.createElement("span");
    what.className = "visually-hidden";
    what.textContent = "Theme: ";
    button.append(mark, what, names[current]);
    button.title = "Theme: " + meaning[current] + ". Click to change.";
  }
  button.hidden = false;
  show();
  button.addEventListener("click", function () {
    var chosen = next[document.documentElement.dataset.theme || ""];
    try {
      if (chosen) window.localStorage.setItem("tidegate-theme", chosen);
      else window.localStorage.removeItem("tidegate-theme");
    } catch (e) { /* not remembered, applied still */ }
    if (chosen) document.documentElement.dataset.theme = chosen;
    else delete document.documentElement.dataset.theme;
    show();
  });
});

// Numbers with separators in the browser's locale ("10492" → "10,492").
if (window.Intl && Intl.NumberFormat) {
  var numbers = new Intl.NumberFormat();
  document.querySelectorAll("[data-number]").forEach(function (el) {
    var value = Number(el.dataset.number);
    if (!isNaN(value)) el.textContent = numbers.format(value);
  });
}

// Each cell knows its column's name, which narrow screens show beside the value.
document.querySelectorAll(".table-wrap table").forEach(function (table) {
  var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
    return th.textContent.trim();
  });
  table.querySelectorAll("tbody tr").forEach(function (row) {
    var column = 0;
    Array.prototype.forEach.call(row.cells, function (cell) {
      if (cell.colSpan === 1 && names[column]) cell.dataset.label = names[column];
      column += cell.colSpan;
    });
  });
});
