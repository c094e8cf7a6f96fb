/* Public portal extras (progressive: every page works without this file).
 * - case page: a "copy link" button next to the shareable address (shown only when the clipboard works). */
(function () {
  'use strict';

  function initCopy() {
    var button = document.querySelector('[data-copy-share]');
    var input = document.querySelector('[data-share-url]');
    var status = document.querySelector('[data-copy-status]');
    if (!button || !input || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(input.value).then(function () {
        if (status) { status.textContent = button.getAttribute('data-copied') || ''; }
      }, function () {
        input.select();
      });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', initCopy);
  } else {
    initCopy();
  }
}());
