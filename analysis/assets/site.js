/* The report's page script (assets/site.js, one copy for the whole site; no network). Three parts:
   1. charts: draw each inert JSON spec with vega-embed (when the page has charts);
   2. the episode picker: checkboxes that set the vega signal "shown_episodes" in every chart and hide the
      table rows of episodes not shown;
   3. the search box: an index of episodes, aircraft, places, sources and findings inlined as JSON. */
(function () {
  'use strict';
  window.flightsViews = window.flightsViews || {};
  var pending = [];

  function picked() {
    var boxes = document.querySelectorAll('.episode-picker input[type=checkbox]');
    if (!boxes.length) { return null; }
    return Array.prototype.filter.call(boxes, function (b) { return b.checked; }).map(function (b) { return b.value; });
  }

  function applyPick() {
    var ids = picked();
    if (ids === null) { return; }
    Object.keys(window.flightsViews).forEach(function (id) {
      var view = window.flightsViews[id];
      try { view.signal('shown_episodes', ids).runAsync(); } catch (e) { /* a chart without the picker's signal */ }
    });
    document.querySelectorAll('tr[data-episode]').forEach(function (row) {
      row.hidden = ids.indexOf(row.getAttribute('data-episode')) < 0;
    });
    var status = document.getElementById('picker-status');
    if (status) { status.textContent = ids.length + ' episode(s) shown'; }
  }

  if (typeof vegaEmbed === 'function') {
    document.querySelectorAll('script.flights-spec').forEach(function (node) {
      var target = document.getElementById(node.getAttribute('data-target'));
      if (!target) { return; }
      var spec = JSON.parse(node.textContent);
      /* ast: expressions run by vega's interpreter, not compiled with eval: the pages' CSP has no 'unsafe-eval' */
      pending.push(vegaEmbed(target, spec, {renderer: 'svg', ast: true,
        actions: false})  /* the figure links below each chart save it as SVG or PNG */
        .then(function (result) { window.flightsViews[target.id] = result.view; })
        .catch(function (err) { target.textContent = 'chart failed: ' + err; console.error(err); }));
    });
  }
  Promise.all(pending).then(applyPick);

  document.querySelectorAll('.episode-picker').forEach(function (box) {
    var status = document.createElement('p');
    status.id = 'picker-status';
    status.setAttribute('role', 'status');
    status.className = 'picker-status';
    box.appendChild(status);
    box.addEventListener('change', applyPick);
    box.querySelectorAll('button[data-pick]').forEach(function (button) {
      button.addEventListener('click', function () {
        var on = button.getAttribute('data-pick') === 'all';
        box.querySelectorAll('input[type=checkbox]').forEach(function (b) { b.checked = on; });
        applyPick();
      });
    });
  });

  /* search */
  var input = document.getElementById('site-search');
  var list = document.getElementById('search-results');
  var data = document.getElementById('search-index');
  if (!input || !list || !data) { return; }
  var index = JSON.parse(data.textContent);
  index.forEach(function (e) { e.hay = (e.label + ' ' + e.kind + ' ' + (e.detail || '')).toLowerCase(); });

  function show(query) {
    list.innerHTML = '';
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) { list.hidden = true; return; }
    var hits = index.filter(function (e) {
      return words.every(function (w) { return e.hay.indexOf(w) >= 0; });
    }).slice(0, 20);
    hits.forEach(function (e) {
      var li = document.createElement('li');
      var a = document.createElement('a');
      a.href = e.url;
      var kind = document.createElement('span');
      kind.className = 'kind';
      kind.textContent = e.kind;
      a.appendChild(kind);
      a.appendChild(document.createTextNode(' ' + e.label));
      if (e.detail) {
        var d = document.createElement('span');
        d.className = 'detail';
        d.textContent = ' · ' + e.detail;
        a.appendChild(d);
      }
      li.appendChild(a);
      list.appendChild(li);
    });
    if (!hits.length) {
      var none = document.createElement('li');
      none.textContent = 'Nothing found for "' + query + '"';
      list.appendChild(none);
    }
    list.hidden = false;
    document.getElementById('search-count').textContent = hits.length + ' result(s)';
  }

  input.addEventListener('input', function () { show(input.value); });
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'ArrowDown') {
      var first = list.querySelector('a');
      if (first) { ev.preventDefault(); first.focus(); }
    } else if (ev.key === 'Escape') {
      input.value = ''; show('');
    }
  });
  list.addEventListener('keydown', function (ev) {
    var links = Array.prototype.slice.call(list.querySelectorAll('a'));
    var i = links.indexOf(document.activeElement);
    if (ev.key === 'ArrowDown' && i < links.length - 1) { ev.preventDefault(); links[i + 1].focus(); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); (i > 0 ? links[i - 1] : input).focus(); }
    else if (ev.key === 'Escape') { input.focus(); input.value = ''; show(''); }
  });
})();
