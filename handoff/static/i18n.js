// The staff and owner pages' scripts in the page's language: t("认领") is the page's English for it when the
// page is in English (the server puts the catalogue in #page-text; it is empty in Chinese), with {name}-style
// placeholders filled from the second argument. Loaded before every staff page's own script.
(function () {
  "use strict";
  const block = document.getElementById("page-text");
  const catalogue = block ? JSON.parse(block.textContent || "{}") : {};
  window.ENGLISH_PAGE = document.documentElement.lang === "en";
  window.t = function (text, values) {
    const said = Object.prototype.hasOwnProperty.call(catalogue, text) ? catalogue[text] : text;
    return values ? said.replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all)) : said;
  };
})();
