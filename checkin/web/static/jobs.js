// The job page's progress: ask the service for the counts every few seconds and move the bar;
// when the job has ended, load the page again to show its results. Without script the page
// reloads itself (a <noscript> refresh) and shows the same.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var every = Math.max(1, parseInt(box.getAttribute("data-poll"), 10) || 2) * 1000;
  var bar = document.getElementById("job-bar");
  function show(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = String(value); }
  }
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (job) {
        if (!job) { window.setTimeout(poll, every * 2); return; }
        bar.max = Math.max(job.total, 1);
        bar.value = job.done;
        show("job-done", job.done);
        show("job-total", job.total);
        show("job-problems", job.problems);
        show("job-percent", job.percent);
        var state = document.getElementById("job-state");
        if (state && job.state === "running" && !state.classList.contains("job-running")) {
          state.textContent = box.getAttribute("data-running");
          state.className = "pill pill-warn job-running";
        }
        if (job.ended) { window.location.reload(); } else { window.setTimeout(poll, every); }
      })
      .catch(function () { window.setTimeout(poll, every * 2); });
  }
  window.setTimeout(poll, every);
})();
