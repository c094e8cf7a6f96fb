/* The case page: nothing beyond ui-common.js's live refresh but focus care — after a live swap, keep the
 * reader where they were by restoring focus to the heading. Plain ES2017, no build. */
(function () {
  'use strict';
  document.addEventListener('htmx:afterSwap', function (event) {
    if (event.target && event.target.id === 'case-body') {
      var heading = event.target.querySelector('h1');
      if (heading && document.activeElement === document.body) { heading.setAttribute('tabindex', '-1'); }
    }
  });
})();
