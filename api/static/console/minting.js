// A mint job's progress, fed by server-sent events (/console/api/jobs/{id}/events). The server sends
// the job's current state on every (re)connection, so a dropped stream simply resumes; the stream
// ends with `end` once the job completed or failed, and then the page stops listening.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || !window.EventSource) return;
  var bar = document.getElementById("job-progress");
  var state = document.getElementById("job-state");
  var count = document.getElementById("job-count");
  var error = document.getElementById("job-error");
  var lang = document.documentElement.lang || "en";
  var fmt = new Intl.NumberFormat(lang);

  function show(data) {
    var percent = Math.max(0, Math.min(100, data.percent));
    bar.value = percent;
    bar.setAttribute("aria-valuenow", String(percent));
    bar.textContent = percent + "%";
    state.dataset.state = data.state;
    state.textContent = box.dataset["state" + data.state.charAt(0).toUpperCase() + data.state.slice(1)] || data.state;
    count.textContent = box.dataset.count
      .replace("{recorded}", fmt.format(data.recorded))
      .replace("{requested}", fmt.format(data.requested));
    if (data.error) {
      error.textContent = data.error;
      error.hidden = false;
    }
  }

  var source = new EventSource(box.dataset.events);
  source.addEventListener("progress", function (e) { show(JSON.parse(e.data)); });
  source.addEventListener("end", function (e) {
    show(JSON.parse(e.data));
    source.close();
  });
})();
