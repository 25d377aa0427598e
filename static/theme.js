// Loaded before the page is drawn: the theme the person chose (light or dark), kept in this
// browser; without a choice the system's setting applies.
"use strict";
try {
  var theme = window.localStorage.getItem("tidegate-theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
} catch (e) { /* storage refused: the system's setting applies */ }
