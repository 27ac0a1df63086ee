/*
 * clearvault web console. Plain JavaScript, no library, no build step.
 * Everything goes through the JSON API with the session token, which is
 * kept in this closure only (not in web storage, not a cookie): a reload or
 * a closed tab ends the console's session. Text from the server is put
 * into the page with textContent, never as HTML.
 */
'use strict';
(function () {
  const S = { token: null, user: '', role: '', sections: [], lastInput: Date.now(),
    alerts: new Map(), alertTimer: null, seenAlerts: false };
  const IDLE_MS = 15 * 60 * 1000;	/* as the server's idle timeout */
  const $ = (id) => document.getElementById(id);

  /* h('tag', {attr: v, on: {click: f}}, child...) */
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
      else if (k === 'text') e.textContent = v;
      else if (v === true) e.setAttribute(k, '');
      else if (v !== false && v != null) e.setAttribute(k, v);
    }
    for (const k of kids.flat(Infinity)) if (k != null) e.append(k instanceof Node ? k : String(k));
    return e;
  }

  /* Progress on every request; long ones say what they do. */
  let busy = 0;
  function progress(delta, what) {
    busy += delta;
    $('progress').hidden = busy <= 0;
    if (what) $('progress-text').textContent = what;
    if (busy <= 0) $('progress-text').textContent = 'Working…';
  }
  function notice(text, ok) {
    const n = $('notice');
    n.textContent = text || '';
    n.className = 'notice' + (ok ? ' ok' : '');
    n.hidden = !text;
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.title)) || ('HTTP ' + status));
      this.status = status; this.body = body || {};
    }
  }

  /* One call; a "step-up required" refusal asks for a code and retries. */
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = {};
    if (S.token) headers.Authorization = 'Bearer ' + S.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    progress(1, opts.what);
    let res;
    try {
      res = await fetch(path, { method, headers, cache: 'no-store', credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, { detail: 'the server cannot be reached (' + e.message + ')' });
    } finally {
      progress(-1);
    }
    const type = res.headers.get('Content-Type') || '';
    const data = type.startsWith('application/json') || type.startsWith('application/problem+json')
      ? await res.json().catch(() => null) : await res.text();
    if (res.ok) return opts.raw ? { data, type } : data;
    const err = new ApiError(res.status, typeof data === 'object' ? data : { detail: data });
    if (res.status === 403 && err.body.title === 'step-up required' && !opts.noStepUp) {
      await stepUp(err.body.detail);
      return api(method, path, body, Object.assign({}, opts, { noStepUp: true }));
    }
    if (res.status === 403 && err.body.title === 'locked') showLocked();
    /* A 401 ends the console's session, but a wrong step-up code (the
     * session still stands: "step-up refused"). */
    else if (res.status === 401 && S.token &&
      !(path === '/v1/session/step-up' && err.body.detail === 'step-up refused')) {
      signOut('Your session has ended. Sign in again.');
    }
    throw err;
  }

  /* One prompt at a time: requests refused meanwhile wait for it. */
  let stepping = null;
  function stepUp(why) {
    if (!stepping) stepping = prompt(why).finally(() => { stepping = null; });
    return stepping;
  }
  function prompt(why) {
    const d = $('stepup-dialog');
    $('stepup-why').textContent = why || 'Enter a fresh code to go on.';
    $('stepup-error').textContent = '';
    $('stepup-totp').value = '';
    return new Promise((resolve, reject) => {
      const done = (f, v) => { d.close(); cleanup(); f(v); };
      async function submit(ev) {
        ev.preventDefault();
        const code = $('stepup-totp').value.trim();
        if (!/^[0-9]{6}$/.test(code)) { $('stepup-error').textContent = 'Six digits.'; return; }
        $('stepup-submit').disabled = true;
        try {
          await api('POST', '/v1/session/step-up', { totp: code }, { noStepUp: true, what: 'Checking the code…' });
          done(resolve);
        } catch (e) {
          if (!S.token) return done(reject, e);	/* the session is over */
          $('stepup-error').textContent = e.status === 429 ? 'Too many codes; wait a minute.' : 'That code was not accepted.';
        } finally { $('stepup-submit').disabled = false; }
      }
      function cancel() { done(reject, new ApiError(403, { title: 'step-up required', detail: 'step-up cancelled' })); }
      function cleanup() {
        $('stepup-form').removeEventListener('submit', submit);
        $('stepup-cancel').removeEventListener('click', cancel);
        d.removeEventListener('cancel', cancel);
      }
      $('stepup-form').addEventListener('submit', submit);
      $('stepup-cancel').addEventListener('click', cancel);
      d.addEventListener('cancel', cancel);
      d.showModal();
      $('stepup-totp').focus();
    });
  }

  /* ---- sign in and out ---- */
  async function login(ev) {
    ev.preventDefault();
    const code = $('totp').value.trim();
    const err = $('login-error');
    err.textContent = '';
    if (!/^[0-9]{6}$/.test(code)) {
      err.textContent = 'Enter the six digits your authenticator app shows.';
      $('totp').setAttribute('aria-invalid', 'true');
      return;
    }
    $('login-submit').disabled = true;
    try {
      const r = await api('POST', '/v1/session', { totp: code }, { what: 'Signing in…' });
      S.token = r.token;
      const me = await api('GET', '/v1/session');
      S.user = me.user; S.role = me.role; S.sections = me.sections || [];
      $('totp').value = '';
      start();
    } catch (e) {
      if (e.status === 403 && e.body.title === 'locked') return showLocked();
      err.textContent = e.status === 429 ? 'Too many attempts: wait a minute and try again.'
        : e.status === 403 ? e.message : e.status === 401
          ? 'Sign-in refused: check the code (and that your browser sent your clearvault certificate).'
          : e.message;
      $('totp').setAttribute('aria-invalid', 'true');
    } finally { $('login-submit').disabled = false; }
  }

  function signOut(why) {
    S.token = null; S.user = S.role = '';
    clearInterval(S.alertTimer); S.alertTimer = null;
    S.alerts.clear(); S.seenAlerts = false;
    $('nav').hidden = true; $('logout').hidden = true; $('who').textContent = '';
    location.hash = '';
    showLogin();
    notice(why || '', !why);
  }

  function showLogin() {
    const v = $('view');
    v.replaceChildren(loginView);
    $('totp').removeAttribute('aria-invalid');
    $('totp').focus();
  }

  function showLocked() {
    S.token = null;
    clearInterval(S.alertTimer);
    $('nav').hidden = true; $('logout').hidden = true;
    $('view').replaceChildren(h('section', { id: 'locked-view', class: 'card narrow locked' },
      h('h1', { text: 'Your account is locked' }),
      h('p', { text: 'The server stopped your reads and alerted the security office. ' +
        'Two security officers must unlock the account before you can sign in again. ' +
        'Nothing you do here can change that; contact your security office.' }),
      h('button', { type: 'button', class: 'secondary', on: { click: () => signOut() } }, 'Back to sign in')));
    $('view').focus();
  }

  /* ---- navigation by role ---- */
  const ROUTES = {
    cases: { title: 'My cases', roles: ['investigator', 'adjudicator'], view: viewMyCases },
    alerts: { title: 'Alerts', roles: ['security_officer'], view: viewAlerts },
    locks: { title: 'Locked users', roles: ['security_officer'], view: viewLocks },
    mcases: { title: 'Cases', roles: ['security_officer'], view: viewCasesAdmin },
    approvals: { title: 'Approvals', roles: ['security_officer', 'admin'], view: viewApprovals },
    reads: { title: 'Reads', roles: ['security_officer'], view: viewReads },
    scope: { title: 'Breach scope', roles: ['security_officer'], view: viewScope },
    audit: { title: 'Audit log', roles: ['auditor'], view: viewAudit },
    drill: { title: 'Drill report', roles: ['security_officer', 'auditor'], view: viewDrill },
    users: { title: 'Users', roles: ['admin'], view: viewUsers },
  };
  /* For views.js (and the browser tests): never the token itself. */
  const CV = window.clearvault = { h, api, ApiError, notice, table, field, go, ROUTES,
    me: () => ({ user: S.user, role: S.role, sections: S.sections.slice() }) };

  function start() {
    notice('');
    const nav = $('nav');
    nav.replaceChildren();
    for (const [k, r] of Object.entries(ROUTES)) {
      if (!r.roles.includes(S.role)) continue;
      nav.append(h('a', { href: '#/' + k, id: 'nav-' + k }, r.title,
        k === 'alerts' ? h('span', { id: 'alert-badge', class: 'badge', hidden: true }) : null));
    }
    nav.hidden = false;
    $('logout').hidden = false;
    $('who').textContent = S.user + ' · ' + S.role.replace('_', ' ');
    if (S.role === 'security_officer') {
      pollAlerts();
      S.alertTimer = setInterval(() => { if (!document.hidden) pollAlerts(); }, 5000);
    }
    const first = Object.keys(ROUTES).find((k) => ROUTES[k].roles.includes(S.role));
    if (location.hash.length > 2) route(); else go('#/' + (first || ''));
  }

  function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

  async function route() {
    if (!S.token) return;
    if (!location.hash.startsWith('#/')) return;	/* the skip link's #view */
    let parts;
    try { parts = location.hash.slice(2).split('/').map(decodeURIComponent); }
    catch (e) { parts = ['']; }
    const r = ROUTES[parts[0]];
    for (const a of $('nav').querySelectorAll('a')) {
      if (a.id === 'nav-' + parts[0]) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const v = $('view');
    if (!r || !r.roles.includes(S.role)) {
      v.replaceChildren(h('section', { class: 'card' }, h('p', { text: 'Nothing here for your role.' })));
      return;
    }
    document.title = r.title + ' · clearvault';
    const box = h('div', { id: 'screen-' + parts[0] });
    v.replaceChildren(box);
    try {
      await r.view(box, parts.slice(1));
    } catch (e) {
      if (S.token) box.append(h('p', { class: 'notice', role: 'alert', text: e.message }));
    }
    /* Signed out meanwhile: the sign-in form keeps the focus. */
    if (S.token) v.focus({ preventScroll: true });
  }

  /* ---- small helpers for views ---- */
  function table(cols, rows, opts) {
    opts = opts || {};
    const t = h('table', { id: opts.id },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: c.title })))),
      h('tbody', {}, rows.map((row) => {
        const tr = h('tr', opts.rowAttrs ? opts.rowAttrs(row) : {}, cols.map((c) => {
          const v = c.cell(row);
          return h('td', {}, v instanceof Node ? v : (v == null ? '' : String(v)));
        }));
        return tr;
      })));
    return h('div', { class: 'table-wrap' }, rows.length ? t : h('p', { class: 'muted', text: opts.empty || 'None.' }));
  }
  function field(label, id, attrs) {
    return h('div', {}, h('label', { for: id, text: label }),
      attrs && attrs.select ? h('select', { id }, attrs.select.map((o) => h('option', { value: o, text: o || '—' })))
        : h(attrs && attrs.textarea ? 'textarea' : 'input', Object.assign({ id, name: id }, attrs || {})),
      h('p', { class: 'field-error', id: id + '-error' }));
  }
  function when(s) { return s ? s.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : ''; }
  function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = h('a', { href: url, download: name });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  }
  CV.when = when; CV.download = download;

  /* ---- investigators and adjudicators ---- */
  async function viewMyCases(box, args) {
    if (args[0] === 'case') return CV.viewCase(box, args[1]);
    if (args[0] === 'record') return CV.viewRecord(box, args[1], args[2]);
    if (args[0] === 'edit') return CV.viewEdit(box, args[1], args[2]);
    const r = await api('GET', '/v1/cases', undefined, { what: 'Loading your cases…' });
    box.append(h('section', { class: 'card' }, h('h1', { text: 'My cases' }),
      table([{ title: 'Case', cell: (c) => h('a', { href: '#/cases/case/' + encodeURIComponent(c.id) }, c.id) },
        { title: 'Title', cell: (c) => c.title },
        { title: 'Records', cell: (c) => c.records },
        { title: 'Opened', cell: (c) => when(c.created_at) }], r.cases,
      { id: 'cases-table', empty: 'You are on no case. A security officer adds you to one.' })));
  }

  /* ---- security officers ---- */
  function alertRow(a) { return a['event'] && a['event'].id ? a['event'].id : JSON.stringify(a); }
  async function pollAlerts() {
    if (!S.token) return;
    let r;
    try { r = await api('GET', '/v1/alerts'); } catch (e) { return; }
    let fresh = 0;
    for (const a of r.alerts) {
      const id = alertRow(a);
      if (!S.alerts.has(id)) { S.alerts.set(id, { a, isNew: S.seenAlerts }); if (S.seenAlerts) fresh++; }
    }
    S.seenAlerts = true;
    const badge = $('alert-badge');
    const unseen = [...S.alerts.values()].filter((x) => x.isNew).length;
    if (badge) { badge.textContent = unseen; badge.hidden = unseen === 0; }
    const screen = $('screen-alerts');
    if (screen && fresh) renderAlerts(screen);
  }
  function renderAlerts(box) {
    const list = [...S.alerts.values()].reverse();
    const old = box.querySelector('#alerts-card');
    const card = h('section', { class: 'card', id: 'alerts-card' },
      h('h1', { text: 'Alerts' }),
      h('p', { class: 'muted', text: 'New alerts appear here as the server raises them (checked every 5 seconds while this page is shown).' }),
      table([{ title: 'Time', cell: (x) => when(x.a['@timestamp']) },
        { title: 'Severity', cell: (x) => h('span', { class: 'sev-' + sevName(x.a) }, sevName(x.a)) },
        { title: 'Rule', cell: (x) => (x.a.rule || {}).name },
        { title: 'User', cell: (x) => (x.a.user || {}).name },
        { title: 'Source', cell: (x) => (x.a.source || {}).ip },
        { title: 'What happened', cell: (x) => x.a.message }], list,
      { id: 'alerts-table', empty: 'No alerts.', rowAttrs: (x) => x.isNew ? { class: 'new' } : {} }),
      h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'secondary', id: 'alerts-seen',
        on: { click: () => { for (const x of S.alerts.values()) x.isNew = false; pollAlerts(); renderAlerts(box); } } },
      'Mark all as seen')));
    if (old) old.replaceWith(card); else box.append(card);
  }
  function sevName(a) {
    if (a.log && a.log.level) return a.log.level;
    const s = (a['event'] || {}).severity;
    return s >= 90 ? 'critical' : s >= 70 ? 'high' : s >= 40 ? 'medium' : 'low';
  }
  async function viewAlerts(box) { await pollAlerts(); renderAlerts(box); }

  async function viewLocks(box) {
    const r = await api('GET', '/v1/locks', undefined, { what: 'Loading locks…' });
    const msg = h('p', { id: 'locks-result', role: 'status' });
    box.append(h('section', { class: 'card' }, h('h1', { text: 'Locked users' }),
      h('p', { class: 'muted', text: 'Unlocking takes two different security officers: your approval is one of them.' }),
      table([{ title: 'User', cell: (l) => l.user }, { title: 'Role', cell: (l) => l.role },
        { title: 'Why', cell: (l) => l.reason },
        { title: 'Approvals', cell: (l) => l.pending_approval ? '1 of 2' : '0 of 2' },
        { title: '', cell: (l) => h('button', { type: 'button', id: 'unlock-' + l.user, on: { click: async (ev) => {
          ev.target.disabled = true;
          try {
            const u = await api('POST', '/v1/users/' + encodeURIComponent(l.user) + '/unlock', {}, { what: 'Approving…' });
            msg.textContent = u.unlocked ? l.user + ' is unlocked (second approval).'
              : 'Your approval is recorded; a second security officer must approve too.';
            msg.className = 'ok';
          } catch (e) { msg.textContent = e.message; msg.className = 'bad'; ev.target.disabled = false; }
        } } }, 'Approve unlock') }], r.locks, { id: 'locks-table', empty: 'Nobody is locked.' }), msg));
  }

  async function viewCasesAdmin(box, args) {
    if (args[0]) return CV.viewCaseAdmin(box, args[0]);
    const r = await api('GET', '/v1/cases', undefined, { what: 'Loading cases…' });
    const err = h('p', { class: 'field-error', id: 'case-title-error' });
    box.append(h('section', { class: 'card' }, h('h1', { text: 'Cases' }),
      table([{ title: 'Case', cell: (c) => h('a', { href: '#/mcases/' + encodeURIComponent(c.id) }, c.id) },
        { title: 'Title', cell: (c) => c.title }, { title: 'Users', cell: (c) => c.users },
        { title: 'Records', cell: (c) => c.records }, { title: 'Opened by', cell: (c) => c.created_by }],
      r.cases, { id: 'mcases-table' }),
      h('form', { id: 'case-form', on: { submit: async (ev) => {
        ev.preventDefault();
        const title = $('case-title').value.trim();
        if (!title) { err.textContent = 'A title is required.'; return; }
        try { const c = await api('POST', '/v1/cases', { title }); go('#/mcases/' + encodeURIComponent(c.id)); }
        catch (e) { err.textContent = e.message; }
      } } }, h('h2', { text: 'Open a case' }),
      h('label', { for: 'case-title', text: 'Title' }), h('input', { id: 'case-title', maxlength: 200 }), err,
      h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Open case')))));
  }

  async function viewApprovals(box) {
    const r = await api('GET', '/v1/approvals', undefined, { what: 'Loading approvals…' });
    const msg = h('p', { id: 'approvals-result', role: 'status' });
    const act = (p, d) => async (ev) => {
      ev.target.disabled = true;
      try {
        const x = await api('POST', '/v1/approvals/' + p.id + '/' + d, {}, { what: 'Deciding…' });
        msg.textContent = 'Proposal ' + p.id + ': ' + x.state + (x.code ? ' (enrolment code: ' + x.code + ')' : '');
        msg.className = 'ok';
      } catch (e) { msg.textContent = e.message; msg.className = 'bad'; ev.target.disabled = false; }
    };
    box.append(h('section', { class: 'card' }, h('h1', { text: 'Pending approvals' }),
      h('p', { class: 'muted', text: 'What gives power takes two people: the proposer cannot approve their own proposal.' }),
      table([{ title: '#', cell: (p) => p.id }, { title: 'What', cell: (p) => p.kind },
        { title: 'Subject', cell: (p) => p.subject }, { title: 'Details', cell: (p) => JSON.stringify(p.args) },
        { title: 'Proposed by', cell: (p) => p.proposer }, { title: 'Expires', cell: (p) => when(p.expires_at) },
        { title: '', cell: (p) => p.state !== 'pending' ? p.state : h('span', {},
          h('button', { type: 'button', id: 'approve-' + p.id, on: { click: act(p, 'approve') } }, 'Approve'), ' ',
          h('button', { type: 'button', class: 'secondary', on: { click: act(p, 'reject') } }, 'Reject')) }],
      r.proposals, { id: 'approvals-table', empty: 'Nothing waits for approval.' }), msg));
  }

  async function viewUsers(box) {
    const r = await api('GET', '/v1/users', undefined, { what: 'Loading users…' });
    box.append(h('section', { class: 'card' }, h('h1', { text: 'Users' }),
      table([{ title: 'Name', cell: (u) => u.name }, { title: 'Role', cell: (u) => u.role },
        { title: 'State', cell: (u) => u.state }, { title: 'Certificates', cell: (u) => u.certificates }],
      r.users, { id: 'users-table' })));
  }

  function viewReads(box, args) { return CV.viewReads(box, args); }
  function viewScope(box, args) { return CV.viewScope(box, args); }
  function viewDrill(box, args) { return CV.viewDrill(box, args); }
  function viewAudit(box, args) { return CV.viewAudit(box, args); }

  /* ---- wiring ---- */
  let loginView;
  async function endSession() {
    try { await api('DELETE', '/v1/session'); } catch (e) { /* ends here anyway */ }
  }
  /* The alert poll keeps the server's idle timer from running out: the
   * console ends the session itself, on the server too. */
  async function idle() {
    if (!S.token || Date.now() - S.lastInput <= IDLE_MS) return;
    await endSession();
    signOut('Signed out after 15 minutes without activity.');
  }
  document.addEventListener('DOMContentLoaded', () => {
    loginView = $('login-view');
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', async () => { await endSession(); signOut(); });
    window.addEventListener('hashchange', route);
    for (const ev of ['keydown', 'pointerdown']) document.addEventListener(ev, () => { S.lastInput = Date.now(); });
    setInterval(idle, 30000);
    $('totp').focus();
  });
})();
