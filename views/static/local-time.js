/* global document */
// Shows every <time datetime> of the page in the viewer's own time zone. The server writes the
// UTC text (kept in the title, shown on hover); without JavaScript that text stays.
(function () {
  var format = new Intl.DateTimeFormat(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  });
  var times = document.querySelectorAll('time[datetime]');
  for (var i = 0; i < times.length; i++) {
    var el = times[i];
    var at = new Date(el.getAttribute('datetime'));
    if (isNaN(at.getTime())) continue;
    if (!el.title) el.title = el.textContent;
    el.textContent = format.format(at);
  }
})();
