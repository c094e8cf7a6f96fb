/* Tables as cards on phones (issue 20): copy each column's header into its cells' data-label, which the
   phone stylesheet shows above the value. Runs on load and after every htmx swap; no inline script (CSP). */
(function () {
  'use strict';

  function headers(table) {
    var row = table.querySelector('thead tr');
    if (!row) { return []; }
    var names = [];
    Array.prototype.forEach.call(row.children, function (cell) {
      var span = parseInt(cell.getAttribute('colspan') || '1', 10);
      for (var i = 0; i < span; i++) { names.push(cell.textContent.replace(/\s+/g, ' ').trim()); }
    });
    return names;
  }

  function label(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll('main table'), function (table) {
      var names = headers(table);
      if (!names.length) { return; }
      Array.prototype.forEach.call(table.querySelectorAll('tbody tr'), function (tr) {
        var column = 0;
        Array.prototype.forEach.call(tr.children, function (cell) {
          var name = names[column];
          if (name && !cell.hasAttribute('data-label')) { cell.setAttribute('data-label', name); }
          column += parseInt(cell.getAttribute('colspan') || '1', 10);
        });
      });
    });
  }

  document.addEventListener('DOMContentLoaded', function () { label(document); });
  document.addEventListener('htmx:afterSettle', function (ev) { label(ev.target && ev.target.ownerDocument ? ev.target.ownerDocument : document); });
}());
