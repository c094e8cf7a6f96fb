/* Tables as cards on phones (issue 20): each cell gets its column's header as data-label (shown by CSS). */
(function () {
  'use strict';
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  function label() {
    each(document.querySelectorAll('main table'), function (table) {
      var names = [];
      each(table.querySelectorAll('thead tr:first-child > *'), function (c) {
        for (var i = +(c.getAttribute('colspan') || 1); i > 0; i--) { names.push(c.textContent.replace(/\s+/g, ' ').trim()); }
      });
      each(table.querySelectorAll('tbody tr'), function (tr) {
        var col = 0;
        each(tr.children, function (c) {
          if (names[col] && !c.hasAttribute('data-label')) { c.setAttribute('data-label', names[col]); }
          col += +(c.getAttribute('colspan') || 1);
        });
      });
    });
  }
  document.addEventListener('DOMContentLoaded', label);
  document.addEventListener('htmx:afterSettle', label);
}());
