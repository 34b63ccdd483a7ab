/* The cxlayer sidebar page. The ZAF SDK is used only for what needs the host: the ticket id,
   resize, opening a linked ticket, and knowing when the ticket or its draft changed. */
(function () {
  'use strict';
  var boot = JSON.parse(document.getElementById('boot').textContent);
  var client = window.ZAFClient && window.ZAFClient.init();
  var ticketId = null, panel = null, actionToken = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function showError(message) { var e = $('error'); e.textContent = message; e.hidden = !message; resize(); }
  function resize() {
    if (client) client.invoke('resize', {width: '100%', height: Math.ceil(document.documentElement.scrollHeight + 8) + 'px'});
  }
  function api(method, path, body, token) {
    return fetch(boot.base + path, {
      method: method,
      headers: {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (response) {
      if (response.status === 401) throw new Error('Your sidebar session ended: reload the ticket.');
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || ('cxlayer answered ' + response.status));
        return data;
      });
    });
  }

  function renderStatus(status) {
    $('status-label').textContent = status.requester_label + (status.customer_status && status.customer_status !== status.requester_label ? ' (' + status.customer_status + ')' : '');
    $('status-meaning').textContent = status.meaning || '';
    $('status').hidden = false;
  }
  function notice(target, item) {
    target.className = 'notice' + (item && item.level === 'warning' ? ' warning' : '');
    target.textContent = item ? item.text : '';
    target.hidden = !item;
  }
  function renderResolution(resolution) {
    var box = $('resolution-current'); box.innerHTML = '';
    var current = resolution.current;
    if (!current) {
      box.appendChild(el('p', 'Not set.', 'muted'));
    } else {
      box.appendChild(el('p', current.name)).style.fontWeight = '600';
      box.appendChild(el('p', current.definition, 'muted'));
      var facts = el('dl');
      facts.appendChild(el('dt', 'Managed by')); facts.appendChild(el('dd', current.managed_by));
      facts.appendChild(el('dt', 'Client approval'));
      facts.appendChild(el('dd', current.needs_approval ? (current.approval_recorded ? 'Needed; recorded' : 'Needed; not recorded yet') : 'Not needed'));
      if (current.products) { facts.appendChild(el('dt', 'Products')); facts.appendChild(el('dd', current.products + ' only')); }
      box.appendChild(facts);
      if (current.notice) { var n = el('div'); notice(n, current.notice); n.id = 'current-notice'; box.appendChild(n); }
    }
    $('resolution').hidden = false;
  }
  function renderClock(clock) {
    $('clock-explanation').textContent = clock.explanation;
    var dates = $('clock-dates'); dates.innerHTML = '';
    function row(label, value, id) { if (!value) return; dates.appendChild(el('dt', label)); var dd = el('dd', value); dd.id = id; dates.appendChild(dd); }
    row('Clock started', clock.started, 'clock-started');
    row('Reminder after', clock.remind_date, 'clock-remind');
    row('Solved after', clock.solve_date, 'clock-solve');
    if (clock.business_days !== null && clock.started) row('Business days', clock.business_days + ' of ' + clock.solve_after, 'clock-days');
    $('clock-calendar').textContent = 'Team calendar: ' + clock.calendar;
    $('pause-auto-solve').hidden = !clock.can_pause;
    $('resume-auto-solve').hidden = !clock.can_resume;
    $('clock').hidden = false;
  }
  function renderDuplicates(dups) {
    var list = $('duplicate-list'); list.innerHTML = '';
    dups.candidates.forEach(function (c) {
      var item = el('li'); item.dataset.ticketId = c.ticket_id;
      item.appendChild(el('strong', '#' + c.ticket_id + (c.flagged ? ' (flagged)' : '')));
      item.appendChild(el('span', ' score ' + c.score.toFixed(2) + ' (flagged from ' + dups.threshold.toFixed(2) + ')', 'score'));
      item.appendChild(el('span', c.evidence, 'evidence'));
      var open = el('button', 'Open'); open.type = 'button'; open.className = 'open-ticket';
      open.addEventListener('click', function () { client.invoke('routeTo', 'ticket', String(c.ticket_id)); });
      var notDup = el('button', 'Not a duplicate'); notDup.type = 'button'; notDup.className = 'not-duplicate';
      notDup.addEventListener('click', function () { act('/not-a-duplicate', {candidate_id: c.ticket_id}, notDup); });
      item.appendChild(open); item.appendChild(notDup);
      if (dups.can_merge) {
        var merge = el('button', 'Merge into #' + c.ticket_id); merge.type = 'button'; merge.className = 'merge';
        var confirmBox = el('div', null, 'confirm'); confirmBox.hidden = true;
        confirmBox.appendChild(el('p', dups.merge_confirm[String(c.ticket_id)]));
        var yes = el('button', 'Confirm merge'); yes.type = 'button'; yes.className = 'confirm-merge';
        var no = el('button', 'Cancel'); no.type = 'button'; no.className = 'cancel-merge';
        confirmBox.appendChild(yes); confirmBox.appendChild(no);
        merge.addEventListener('click', function () { confirmBox.hidden = false; merge.disabled = true; resize(); });
        no.addEventListener('click', function () { confirmBox.hidden = true; merge.disabled = false; resize(); });
        yes.addEventListener('click', function () {
          act('/merge', {candidate_id: c.ticket_id, confirmed: true}, yes).then(function (data) {
            if (data && data.merged_into) client.invoke('routeTo', 'ticket', String(data.merged_into));
          });
        });
        item.appendChild(merge); item.appendChild(confirmBox);
      }
      list.appendChild(item);
    });
    if (!dups.candidates.length) list.appendChild(el('li', 'None found among the requester\'s recent tickets.', 'muted'));
    $('duplicates').hidden = false;
  }
  function renderHistory(history) {
    var list = $('history-list'); list.innerHTML = '';
    history.forEach(function (h) {
      var item = el('li');
      item.appendChild(el('span', h.when + ' · ' + h.rule + ': ' + h.action, ''));
      if (h.reason) item.appendChild(el('span', h.reason, 'evidence'));
      if (h.undo) {
        var undo = el('button', h.undo.label); undo.type = 'button'; undo.className = 'undo';
        undo.dataset.kind = h.undo.kind;
        undo.addEventListener('click', function () { act('/undo', {kind: h.undo.kind, run_id: h.undo.run_id}, undo); });
        item.appendChild(undo);
      }
      list.appendChild(item);
    });
    if (!history.length) list.appendChild(el('li', 'Nothing yet.', 'muted'));
    $('history').hidden = false;
  }
  function render(data) {
    panel = data; actionToken = data.action_token;
    $('loading').hidden = true;
    renderStatus(data.status); renderResolution(data.resolution); renderClock(data.clock);
    renderDuplicates(data.duplicates); renderHistory(data.history);
    checkDraft();
    showError('');
  }
  function load() {
    return api('GET', '/api/tickets/' + ticketId, null, boot.session).then(render).catch(function (e) { showError(e.message); });
  }
  function act(path, body, button) {
    if (button) button.disabled = true;
    return api('POST', '/api/tickets/' + ticketId + path, body, actionToken)
      .then(function (data) { render(data); return data; }, function (e) { showError(e.message); return null; })
      .then(function (data) { if (button) button.disabled = false; return data; });
  }
  function checkDraft() {
    if (!panel || !boot.resolution_field_id) { resize(); return; }
    client.get('ticket.customField:custom_field_' + boot.resolution_field_id).then(function (data) {
      var value = data['ticket.customField:custom_field_' + boot.resolution_field_id];
      var current = panel.resolution.current;
      var item = value && (!current || current.value !== value) ? panel.resolution.draft_notices[value] : null;
      notice($('draft-notice'), item ? {level: item.level, text: 'Before you solve: ' + item.text} : null);
      $('draft-notice').id = 'draft-notice';
      resize();
    }).catch(function () { resize(); });
  }

  if (!client) { showError('Open this page from a Zendesk ticket.'); return; }
  $('pause-auto-solve').addEventListener('click', function () { act('/auto-solve', {paused: true}, this); });
  $('resume-auto-solve').addEventListener('click', function () { act('/auto-solve', {paused: false}, this); });
  client.on('ticket.updated', function () { if (ticketId) load(); });
  if (boot.resolution_field_id) client.on('ticket.custom_field_' + boot.resolution_field_id + '.changed', checkDraft);
  client.get('ticket.id').then(function (data) { ticketId = data['ticket.id']; return load(); })
    .catch(function (e) { showError('The ticket could not be read from Zendesk: ' + e.message); });
})();
