/*
 * clearvault web console: the screens beyond the lists (console.js has
 * the core). Records, case membership, reads over time, breach scope, the
 * drill report and the auditor's checks.
 */
'use strict';
(function () {
  const CV = window.clearvault;
  const { h, api, table, field, when, download } = CV;
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const SVGNS = 'http://www.w3.org/2000/svg';

  function card(title, ...kids) { return h('section', { class: 'card' }, h('h1', { text: title }), ...kids); }
  function refusal(e) {
    return h('p', { class: 'notice', role: 'alert', id: 'refusal' },
      e.status === 403 ? 'Refused: ' + e.message : e.status === 404 ? 'Not found: ' + e.message : e.message);
  }

  /* ---- a case, its records, search ---- */
  CV.viewCase = async function (box, id) {
    const c = await api('GET', '/v1/cases/' + enc(id), undefined, { what: 'Loading the case…' });
    const found = h('div', { id: 'search-result', role: 'status' });
    const link = (rid) => h('a', { href: '#/cases/record/' + enc(id) + '/' + enc(rid) }, rid);
    /* The vault mixes decoy records into every case (README, "Canaries"):
     * opening one locks the reader. The way to a subject is a search. */
    box.append(card('Case ' + c.id + ': ' + c.title,
      h('p', { class: 'muted', text: c.records.length + ' record(s). Every record you open is logged with this case as its purpose.' }),
      h('details', { id: 'case-list' }, h('summary', {}, 'All record ids of this case'),
        h('p', { class: 'bad', text: 'Every case also holds decoy records that look like the others. Opening a record that is not one of your subjects locks your account and alerts the security office: find your subjects by SSN or by name and birth date below.' }),
        h('ul', { class: 'plain', id: 'case-records' }, c.records.map((r) => h('li', {}, link(r))))),
      h('div', { class: 'buttons' }, h('a', { href: '#/cases/edit/' + enc(id), id: 'new-record' }, 'New record in this case'))),
    card('Search in this case',
      h('p', { class: 'muted', text: 'By SSN, or by last name and birth date. Only records of this case are found.' }),
      h('form', { id: 'search-form', novalidate: true, on: { submit: async (ev) => {
        ev.preventDefault();
        const ssn = $('s-ssn').value.trim(), last = $('s-last').value.trim(), dob = $('s-dob').value.trim();
        for (const k of ['s-ssn', 's-last', 's-dob']) $(k + '-error').textContent = '';
        const q = new URLSearchParams({ purpose: id });
        if (ssn) {
          if (!/^\d{3}-\d{2}-\d{4}$/.test(ssn)) { $('s-ssn-error').textContent = 'NNN-NN-NNNN'; return; }
          q.set('ssn', ssn);
        } else {
          if (!last) { $('s-last-error').textContent = 'A last name, or an SSN above.'; return; }
          if (!/^\d{4}-\d{2}-\d{2}$/.test(dob)) { $('s-dob-error').textContent = 'YYYY-MM-DD'; return; }
          q.set('last', last); q.set('dob', dob);
        }
        try {
          const r = await api('GET', '/v1/records?' + q, undefined, { what: 'Searching…' });
          found.replaceChildren(r.ids.length ? h('ul', { class: 'plain' }, r.ids.map((x) => h('li', {}, link(x))))
            : h('p', { text: 'No record of this case matches.' }));
        } catch (e) { found.replaceChildren(refusal(e)); }
      } } },
      h('div', { class: 'row' }, field('SSN', 's-ssn', { placeholder: '123-45-6789' }),
        field('Last name', 's-last'), field('Birth date', 's-dob', { placeholder: 'YYYY-MM-DD' })),
      h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Search'))), found));
  };

  /* A value as nested definition lists. */
  function show(v) {
    if (Array.isArray(v)) {
      if (!v.length) return h('span', { class: 'muted', text: 'none' });
      return h('ol', {}, v.map((x) => h('li', {}, show(x))));
    }
    if (v && typeof v === 'object') {
      return h('dl', { class: 'fields' }, Object.entries(v).map(([k, x]) => [h('dt', { text: k.replace(/_/g, ' ') }), h('dd', {}, show(x))]));
    }
    return typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
  }

  CV.viewRecord = async function (box, caseId, id) {
    const back = h('p', {}, h('a', { href: '#/cases/case/' + enc(caseId) }, '← Case ' + caseId));
    let r;
    try {
      r = await api('GET', '/v1/records/' + enc(id) + '?purpose=' + enc(caseId), undefined, { what: 'Opening the record…' });
    } catch (e) {
      box.append(back, card('Record ' + id, refusal(e)));
      return;
    }
    const secs = Object.keys(r).filter((k) => k !== 'id');
    box.append(back, card('Record ' + r.id,
      h('p', { class: 'muted', text: 'Sections your role may see: ' + CV.me().sections.join(', ') + '.' }),
      h('div', { id: 'record-sections' }, secs.map((s) => h('div', { class: 'section', id: 'section-' + s },
        h('h2', { text: s[0].toUpperCase() + s.slice(1) }), show(r[s])))),
      /* An update replaces the whole record: only a role that reads all
       * of it may (the server refuses the others). */
      CV.me().sections.length < 9 ? null
        : h('div', { class: 'buttons' }, h('a', { href: '#/cases/edit/' + enc(caseId) + '/' + enc(id), id: 'edit-record' }, 'Edit'))));
  };

  /* ---- create and update, errors at the field ---- */
  const IDENT = [['First name', 'identity.name.first'], ['Middle name', 'identity.name.middle'],
    ['Last name', 'identity.name.last'], ['SSN', 'identity.ssn'], ['Birth date', 'identity.birth_date'],
    ['Birth city', 'identity.birth_place.city'], ['Birth state', 'identity.birth_place.state'],
    ['Birth country', 'identity.birth_place.country'], ['Citizenship (comma separated)', 'identity.citizenship']];
  const fid = (p) => 'f-' + p.replace(/[^a-z0-9]/gi, '-');
  function get(o, path) { return path.split('.').reduce((x, k) => (x == null ? undefined : x[k]), o); }
  function put(o, path, v) {
    const ks = path.split('.');
    let x = o;
    for (const k of ks.slice(0, -1)) x = x[k] = (x[k] && typeof x[k] === 'object') ? x[k] : {};
    if (v === undefined || v === '') delete x[ks[ks.length - 1]]; else x[ks[ks.length - 1]] = v;
  }
  function fieldError(path, msg) {
    let p = path;
    /* The field, else its nearest enclosing one that has an input. */
    while (p && !document.querySelector('[data-path="' + CSS.escape(p) + '"]')) {
      const up = p.replace(/(\.[^.[]*|\[\d+\])$/, '');
      p = up === p ? '' : up;
    }
    const el = (p && document.querySelector('[data-path="' + CSS.escape(p) + '"]')) || $('f-id');
    el.setAttribute('aria-invalid', 'true');
    /* Shown at an enclosing field: say which part of it. */
    $(el.id + '-error').textContent = p === path ? msg : path + ': ' + msg;
    el.focus();
  }

  CV.viewEdit = async function (box, caseId, id) {
    const sections = CV.me().sections;
    let rec = { identity: {} };
    if (id) rec = await api('GET', '/v1/records/' + enc(id) + '?purpose=' + enc(caseId), undefined, { what: 'Opening the record…' });
    const form = h('form', { id: 'record-form', novalidate: true });
    const status = h('p', { id: 'record-status', role: 'status' });
    form.append(field('Record id', 'f-id', { 'data-path': 'id', value: rec.id || '', readonly: !!id, required: true }));
    if (sections.includes('identity')) {
      form.append(h('h2', { text: 'Identity' }), h('div', { class: 'row' }, IDENT.map(([label, p]) => {
        const v = get(rec, p);
        return field(label, fid(p), { 'data-path': p, value: Array.isArray(v) ? v.join(', ') : (v || '') });
      }), field('Sex', fid('identity.sex'), { select: ['', 'F', 'M', 'X'] })));
    }
    /* A new record needs its adjudication section even from a role that
     * cannot read it back (docs/schema.md). */
    if (sections.includes('adjudication') || !id) {
      form.append(h('h2', { text: 'Adjudication' }), sections.includes('adjudication') ? null
        : h('p', { class: 'muted', text: 'Required for a new record; your role will not see it again.' }), h('div', { class: 'row' },
        field('Clearance level', fid('adjudication.clearance_level'), { select: ['none', 'confidential', 'secret', 'top_secret'] }),
        field('Investigation tier', fid('adjudication.investigation_tier'), { select: ['T1', 'T2', 'T3', 'T4', 'T5'] }),
        field('Status', fid('adjudication.status'), { select: ['pending', 'granted', 'denied', 'revoked', 'suspended'] }),
        field('Decided on', fid('adjudication.decided_on'), { 'data-path': 'adjudication.decided_on', placeholder: 'YYYY-MM-DD', value: get(rec, 'adjudication.decided_on') || '' })));
    }
    const other = sections.filter((s) => s !== 'identity' && s !== 'adjudication');
    if (other.length) form.append(h('h2', { text: 'Other sections (JSON, empty to leave out)' }));
    for (const s of other) {
      form.append(field(s, fid(s), { textarea: true, 'data-path': s, spellcheck: 'false' }));
    }
    form.append(h('div', { class: 'buttons' }, h('button', { type: 'submit', id: 'record-save' }, id ? 'Save new version' : 'Create record'),
      h('a', { href: id ? '#/cases/record/' + enc(caseId) + '/' + enc(id) : '#/cases/case/' + enc(caseId) }, 'Cancel')), status);
    box.append(card(id ? 'Edit record ' + id : 'New record in case ' + caseId, form));
    for (const s of other) if (rec[s] !== undefined) $(fid(s)).value = JSON.stringify(rec[s], null, 2);
    if ($(fid('identity.sex'))) $(fid('identity.sex')).value = get(rec, 'identity.sex') || '';
    const ADJ = ['adjudication.clearance_level', 'adjudication.investigation_tier', 'adjudication.status'];
    for (const p of ADJ) if ($(fid(p)) && get(rec, p)) $(fid(p)).value = get(rec, p);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
      status.textContent = '';
      const body = JSON.parse(JSON.stringify(rec));
      body.id = $('f-id').value.trim();
      if (!body.id) return fieldError('id', 'A record id is required (A-Z a-z 0-9 - _ .).');
      if (sections.includes('identity')) {
        for (const [, p] of IDENT) {
          const v = $(fid(p)).value.trim();
          put(body, p, p === 'identity.citizenship' ? (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : undefined) : v);
        }
        put(body, 'identity.sex', $(fid('identity.sex')).value || undefined);
        const ssn = get(body, 'identity.ssn');
        if (!ssn || !/^\d{3}-\d{2}-\d{4}$/.test(ssn)) return fieldError('identity.ssn', 'An SSN, NNN-NN-NNNN.');
        const dob = get(body, 'identity.birth_date');
        if (!dob || !/^\d{4}-\d{2}-\d{2}$/.test(dob)) return fieldError('identity.birth_date', 'A date, YYYY-MM-DD.');
      }
      for (const p of ADJ.concat(['adjudication.decided_on'])) if ($(fid(p))) put(body, p, $(fid(p)).value.trim());
      for (const s of other) {
        const t = $(fid(s)).value.trim();
        if (!t) { delete body[s]; continue; }
        try { body[s] = JSON.parse(t); } catch (e) { return fieldError(s, 'Not JSON: ' + e.message); }
      }
      $('record-save').disabled = true;
      try {
        const q = '?purpose=' + enc(caseId);
        const r = id ? await api('PUT', '/v1/records/' + enc(id) + q, body, { what: 'Saving…' })
          : await api('POST', '/v1/records' + q, body, { what: 'Creating…' });
        status.textContent = 'Saved: ' + r.id + ', version ' + r.version + '.';
        status.className = 'ok';
        setTimeout(() => CV.go('#/cases/record/' + enc(caseId) + '/' + enc(r.id)), 600);
      } catch (e) {
        const m = /^field ([^:]+): (.*)$/.exec(e.body.detail || '');
        if (e.status === 422 && m) fieldError(m[1], m[2]);
        else { status.textContent = e.message; status.className = 'bad'; }
      } finally { $('record-save').disabled = false; }
    });
  };

  /* ---- a case's members, for security officers ---- */
  CV.viewCaseAdmin = async function (box, id) {
    const c = await api('GET', '/v1/cases/' + enc(id), undefined, { what: 'Loading the case…' });
    const msg = h('p', { id: 'members-result', role: 'status' });
    const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
    async function change(method, users, records) {
      const body = {};
      if (users.length) body.users = users;
      if (records.length) body.records = records;
      try {
        const r = await api(method, '/v1/cases/' + enc(id) + '/members', body, { what: 'Sending…' });
        msg.textContent = r.proposal ? 'Proposal ' + r.proposal + ' made: a second security officer must approve it.'
          : 'Removed.';
        msg.className = 'ok';
      } catch (e) { msg.textContent = e.message; msg.className = 'bad'; }
    }
    const rm = (u, isRec) => h('button', { type: 'button', class: 'secondary', on: { click: () => change('DELETE', isRec ? [] : [u], isRec ? [u] : []) } }, 'Remove');
    box.append(h('p', {}, h('a', { href: '#/mcases' }, '← Cases')), card('Case ' + c.id + ': ' + c.title,
      h('h2', { text: 'Users' }), table([{ title: 'User', cell: (u) => u }, { title: '', cell: (u) => rm(u, 0) }], c.users, { id: 'members-users' }),
      h('h2', { text: 'Records' }), table([{ title: 'Record', cell: (u) => u }, { title: '', cell: (u) => rm(u, 1) }], c.records, { id: 'members-records' }),
      h('form', { id: 'members-form', on: { submit: (ev) => { ev.preventDefault(); change('POST', list($('m-users').value), list($('m-records').value)); } } },
        h('h2', { text: 'Add members (takes a second officer\'s approval)' }),
        h('div', { class: 'row' }, field('Users (comma separated)', 'm-users'), field('Record ids (comma separated)', 'm-records')),
        h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Propose'))), msg));
  };

  /* ---- a user's reads over time ---- */
  function chart(series, bucket) {
    const W = 900, H = 200, pad = 30, n = series.length;
    const max = Math.max(1, ...series.map((p) => p.records));
    const svg = document.createElementNS(SVGNS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + (H + pad));
    svg.setAttribute('class', 'chart');
    svg.setAttribute('role', 'img');
    svg.setAttribute('id', 'reads-chart');
    const total = series.reduce((a, p) => a + p.records, 0);
    const title = document.createElementNS(SVGNS, 'title');
    title.textContent = total + ' records read; at most ' + max + ' in one ' + bucket;
    svg.append(title);
    const bw = (W - pad) / n;
    series.forEach((p, i) => {
      const r = document.createElementNS(SVGNS, 'rect');
      const hh = (p.records / max) * (H - 10);
      r.setAttribute('x', pad + i * bw); r.setAttribute('y', H - hh);
      r.setAttribute('width', Math.max(1, bw - 1)); r.setAttribute('height', hh);
      const t = document.createElementNS(SVGNS, 'title');
      t.textContent = when(p.t) + ': ' + p.records;
      r.append(t); svg.append(r);
    });
    const lab = (x, y, s) => { const t = document.createElementNS(SVGNS, 'text'); t.setAttribute('x', x); t.setAttribute('y', y); t.textContent = s; svg.append(t); };
    lab(0, 12, String(max)); lab(0, H, '0');
    lab(pad, H + 16, when(series[0].t)); lab(W - 160, H + 16, when(series[n - 1].t));
    return svg;
  }
  CV.viewReads = async function (box) {
    const out = h('div', { id: 'reads-result' });
    box.append(card('A user\'s reads over time',
      h('form', { id: 'reads-form', on: { submit: async (ev) => {
        ev.preventDefault();
        const q = new URLSearchParams({ user: $('r-user').value.trim(), days: $('r-days').value, bucket: $('r-bucket').value });
        try {
          const r = await api('GET', '/v1/reads?' + q, undefined, { what: 'Reading the audit log…' });
          const total = r.series.reduce((a, p) => a + p.records, 0);
          out.replaceChildren(h('p', { id: 'reads-total', text: r.user + ': ' + total + ' record(s) returned in ' + r.series.length + ' ' + $('r-bucket').value + '(s).' }),
            chart(r.series, $('r-bucket').value));
        } catch (e) { out.replaceChildren(refusal(e)); }
      } } }, h('div', { class: 'row' }, field('User', 'r-user', { required: true }),
        field('Days', 'r-days', { type: 'number', min: 1, max: 90, value: 7 }), field('Per', 'r-bucket', { select: ['hour', 'day'] })),
      h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Show'))), out));
  };

  /* ---- breach scope ---- */
  CV.viewScope = async function (box) {
    const out = h('div', { id: 'scope-result' });
    let last = null;
    const query = () => {
      const q = new URLSearchParams({ kind: $('sc-kind').value, subject: $('sc-subject').value.trim() });
      if ($('sc-from').value.trim()) q.set('from', $('sc-from').value.trim());
      if ($('sc-to').value.trim()) q.set('to', $('sc-to').value.trim());
      return q;
    };
    box.append(card('Breach scope',
      h('p', { class: 'muted', text: 'Exactly which records\' data left to a user, a certificate, a session or an address: the server verifies the whole audit log first, as clearvault scope does. Each scope is logged.' }),
      h('form', { id: 'scope-form', on: { submit: async (ev) => {
        ev.preventDefault();
        $('sc-subject-error').textContent = '';
        if (!$('sc-subject').value.trim()) { $('sc-subject-error').textContent = 'Whose?'; return; }
        const q = query();
        try {
          const r = await api('GET', '/v1/scope?' + q, undefined, { what: 'Verifying the audit log and scoping…' });
          last = { q, r };
          out.replaceChildren(h('p', { id: 'scope-total', text: r.records.length + ' record(s) returned to ' + r.subject.kind + ' ' + r.subject.value + '.' }),
            table([{ title: 'Record', cell: (x) => x.id }, { title: 'Sections', cell: (x) => x.sections.join(', ') },
              { title: 'First read', cell: (x) => when(x.first_read) }, { title: 'Last read', cell: (x) => when(x.last_read) }], r.records, { id: 'scope-table', empty: 'Nothing was returned to this subject.' }),
            h('div', { class: 'buttons' },
              h('button', { type: 'button', id: 'scope-json', on: { click: () => download('scope.json', 'application/json', JSON.stringify(last.r, null, 2)) } }, 'Download JSON'),
              h('button', { type: 'button', id: 'scope-csv', on: { click: async () => {
                const q2 = new URLSearchParams(last.q); q2.set('format', 'csv');
                try { download('scope.csv', 'text/csv', await api('GET', '/v1/scope?' + q2, undefined, { what: 'Scoping (CSV)…' })); }
                catch (e) { out.append(refusal(e)); }
              } } }, 'Download CSV')));
        } catch (e) { out.replaceChildren(refusal(e)); }
      } } }, h('div', { class: 'row' },
        field('Kind', 'sc-kind', { select: ['principal', 'cert', 'session', 'address'] }), field('Subject', 'sc-subject'),
        field('From (optional)', 'sc-from', { placeholder: '2026-11-25 or RFC 3339' }), field('To (optional)', 'sc-to')),
      h('div', { class: 'buttons' }, h('button', { type: 'submit', id: 'scope-run' }, 'Scope'))), out));
  };

  /* ---- the latest drill ---- */
  CV.viewDrill = async function (box) {
    let d;
    try { d = await api('GET', '/v1/drills/latest', undefined, { what: 'Loading the report…' }); }
    catch (e) { box.append(card('Drill report', refusal(e))); return; }
    const img = h('img', { class: 'drill-img', id: 'drill-timeline', alt: 'Timeline of the drill: for each scenario, when it started and when it was detected' });
    img.src = URL.createObjectURL(new Blob([d.svg], { type: 'image/svg+xml' }));
    img.addEventListener('load', () => URL.revokeObjectURL(img.src), { once: true });
    box.append(card('Latest drill report',
      h('p', { class: 'muted', text: 'Run ' + when(d.written_at) + ' by ' + d.written_by + ', ' + d.report.records + ' records per scenario.' }),
      table([{ title: '#', cell: (s) => s.scenario }, { title: 'Scenario', cell: (s) => s.name },
        { title: 'Exposed', cell: (s) => s.records_exposed },
        { title: 'Detected after', cell: (s) => s.detected_after_ms == null ? '—' : s.detected_after_ms + ' ms' + (s.detected_simulated ? ' (simulated)' : '') },
        { title: 'Control', cell: (s) => s.control },
        { title: 'Goal', cell: (s) => h('span', { class: s.goal_met ? 'ok' : 'bad' }, s.goal_met ? 'met' : 'MISSED') }],
      d.report.scenarios, { id: 'drill-table' }), h('h2', { text: 'Timeline' }), img));
  };

  /* ---- the auditor: checkpoint, entries, inclusion proofs ---- */
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const hex = (u) => [...u].map((b) => b.toString(16).padStart(2, '0')).join('');
  async function sha256(...parts) {
    const n = parts.reduce((a, p) => a + p.length, 0), buf = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { buf.set(p, o); o += p.length; }
    return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  }
  /* RFC 9162 2.1.3.2: the root an inclusion proof leads to. */
  async function inclusionRoot(index, size, leafHash, path) {
    let fn = index, sn = size - 1, r = leafHash;
    for (const p of path) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(Uint8Array.of(1), p, r);
        if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else r = await sha256(Uint8Array.of(1), r, p);
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }
  function parseNote(text) {
    const i = text.indexOf('\n\n');
    if (i < 0) return null;
    const body = text.slice(0, i + 1), lines = body.split('\n');
    const sigs = text.slice(i + 2).split('\n').filter(Boolean).map((l) => /^\u2014 (\S+) (\S+)$/.exec(l)).filter(Boolean);
    return { body, origin: lines[0], size: Number(lines[1]), root: lines[2], sigs };
  }
  /* C2SP signed note, Ed25519: key "name+hash+base64(0x01 || pk)". */
  async function verifyNote(note, vkey) {
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(vkey.trim());
    if (!m) return 'not a verifier key (name+hash+key, from clearvault audit pubkey)';
    const raw = b64(m[3]);
    if (raw.length !== 33 || raw[0] !== 1) return 'not an Ed25519 verifier key';
    const sig = note.sigs.find((s) => s[1] === m[1]);
    if (!sig) return 'no signature by ' + m[1];
    const sb = b64(sig[2]);
    if (hex(sb.slice(0, 4)) !== m[2]) return 'the signature is by another key';
    const key = await crypto.subtle.importKey('raw', raw.slice(1), { name: 'Ed25519' }, false, ['verify']);
    const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, sb.slice(4), new TextEncoder().encode(note.body));
    return ok ? true : 'the signature does not verify';
  }
  CV.viewAudit = async function (box) {
    const text = await api('GET', '/v1/audit/checkpoint', undefined, { what: 'Loading the checkpoint…' });
    const note = parseNote(text);
    if (!note) throw new Error('the checkpoint is not a signed note');
    const sigStatus = h('p', { id: 'sig-status', role: 'status', class: 'muted', text: 'Signature not checked yet: paste the log\'s key.' });
    const proofOut = h('div', { id: 'proof-result', role: 'status' });
    const entriesOut = h('div', { id: 'entries' });
    let verified = false;
    async function checkSig() {
      const k = $('a-vkey').value;
      if (!k.trim()) return;
      const r = await verifyNote(note, k).catch((e) => 'cannot verify here: ' + e.message);
      verified = r === true;
      sigStatus.textContent = r === true ? 'Signature verified in this browser with the key you gave.' : 'Signature NOT verified: ' + r;
      sigStatus.className = r === true ? 'ok' : 'bad';
    }
    async function prove(e) {
      /* A proof leads to a root; only a signed root says it is the log's. */
      if (!verified) {
        proofOut.replaceChildren(h('p', { id: 'proof-status', class: 'bad', role: 'alert',
          text: 'Verify the checkpoint\'s signature first: a proof against an unsigned root proves nothing.' }));
        $('a-vkey').focus();
        return;
      }
      proofOut.replaceChildren(h('p', { text: 'Checking entry ' + e.index + '…' }));
      try {
        if (e.index >= note.size) throw new Error('entry ' + e.index + ' is past the checkpoint (' + note.size + ' entries): wait for the next one');
        const p = await api('GET', '/v1/audit/proof?index=' + e.index + '&size=' + note.size, undefined, { what: 'Fetching the proof…' });
        const leaf = await sha256(Uint8Array.of(0), b64(e.leaf));
        const leafOk = hex(leaf) === hex(b64(p.leaf_hash));
        const root = await inclusionRoot(e.index, note.size, leaf, p.proof.map(b64));
        const ok = leafOk && root && hex(root) === hex(b64(note.root));
        proofOut.replaceChildren(h('h2', { text: 'Entry ' + e.index }),
          h('p', { id: 'proof-status', class: ok ? 'ok' : 'bad', text: ok
            ? 'Included in the signed checkpoint of ' + note.size + ' entries: its leaf (SHA-256 ' + hex(leaf) + ') and the proof of ' + p.proof.length + ' hashes verified in this browser.'
            : 'NOT proved: the proof does not lead to the checkpoint\'s root.' }),
          h('p', { class: 'muted', text: 'The proof covers the entry\'s bytes (the leaf). The fields below are as the server decoded them; clearvault audit check decodes the leaf offline.' }),
          h('pre', { text: JSON.stringify(e, null, 2) }));
        proofOut.scrollIntoView({ block: 'nearest' });
      } catch (err) { proofOut.replaceChildren(refusal(err)); }
    }
    async function load(from) {
      const r = await api('GET', '/v1/audit/entries?from=' + from + '&count=50', undefined, { what: 'Loading entries…' });
      entriesOut.replaceChildren(table([{ title: '#', cell: (e) => e.index }, { title: 'Time', cell: (e) => when(e.time) },
        { title: 'Actor', cell: (e) => e.actor }, { title: 'Action', cell: (e) => e.action },
        { title: 'Outcome', cell: (e) => e.outcome },
        { title: '', cell: (e) => h('button', { type: 'button', class: 'secondary', id: 'prove-' + e.index, on: { click: () => prove(e) } }, 'Prove') }],
      r.entries.slice().reverse(), { id: 'entries-table' }));
    }
    box.append(card('Latest signed checkpoint',
      h('dl', { class: 'fields' }, h('dt', { text: 'Log' }), h('dd', { text: note.origin }), h('dt', { text: 'Entries' }),
        h('dd', { id: 'ckpt-size', text: String(note.size) }), h('dt', { text: 'Root hash' }), h('dd', { text: note.root }),
        h('dt', { text: 'Signed by' }), h('dd', { text: note.sigs.map((s) => s[1]).join(', ') })),
      h('pre', { id: 'checkpoint', text }),
      field('The log\'s verifier key (clearvault audit pubkey, obtained out of band)', 'a-vkey'),
      h('div', { class: 'buttons' }, h('button', { type: 'button', id: 'verify-sig', on: { click: checkSig } }, 'Verify signature')), sigStatus),
    card('Entries', h('p', { class: 'muted', text: 'The latest 50 up to the checkpoint. Prove one to check, in this browser, that it is in the signed log.' }), proofOut, entriesOut));
    await load(Math.max(0, note.size - 50));
  };
})();
