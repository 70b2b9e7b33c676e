/* Privacy office page: find a person by any identity (POST /v1/privacy/exports), show what is held, download the export, erase (POST /v1/privacy/erasures) and keep the receipt. */
(function () {
  'use strict';
  const KEY_ITEM = 'cdp-privacy-key';
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s === undefined || s === null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const time = (ms) => (typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '');
  let current = null; // the export on screen
  let receipt = null;

  function status(text, error) {
    $('status').textContent = text;
    $('status').className = error ? 'error' : '';
  }

  /** A JSON call with the privacy key; the error message names the field the service named. */
  async function call(path, body) {
    const key = sessionStorage.getItem(KEY_ITEM);
    if (!key) throw new Error('sign in with a privacy key first');
    const res = await fetch(path, { method: 'POST', cache: 'no-store', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify(body) });
    const answer = await res.json().catch(() => ({}));
    if (res.ok) return answer;
    if (res.status === 401 || res.status === 403) throw new Error('the key was refused (' + res.status + '): a key with the privacy scope is needed');
    if (res.status === 404) {
      const err = new Error('No one is held under this identity.');
      err.notFound = true;
      throw err;
    }
    const fields = Array.isArray(answer.errors) ? answer.errors.map((e) => e.field + ': ' + e.message).join('; ') : '';
    throw new Error((fields || answer.message || 'the service answered ' + res.status) + ' (' + res.status + ')');
  }

  function download(name, value) {
    const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function render(x) {
    $('person-id').textContent = x.subject.profileId;
    const s = x.summary;
    const tiles = [
      ['identities', 'Identities', s.identities],
      ['events', 'Events held', s.events],
      ['foldedEvents', 'Older events (folded)', s.foldedEvents],
      ['consents', 'Consent signals', s.consents],
      ['traits', 'Traits', s.traits],
      ['links', 'Graph links', s.links],
      ['accounts', 'B2B accounts', s.accounts],
      ['related', 'Linked profiles', s.related],
      ['stage', 'Stage', s.stage || '–'],
    ];
    $('summary').innerHTML = tiles.map(([k, label, v]) => '<div class="tile" data-summary="' + k + '"><div class="label">' + esc(label) + '</div><div class="value">' + esc(v) + '</div></div>').join('');
    $('identities').tBodies[0].innerHTML = x.identities
      .map((i) => {
        const by = i.graph && i.graph.linkedBy ? [i.graph.linkedBy.channel, i.graph.linkedBy.eventId, time(i.graph.linkedBy.at)].filter(Boolean).join(' · ') : i.graph ? 'first identity of the profile' : 'not in the graph';
        return '<tr data-identity-type="' + esc(i.type) + '"><td>' + esc(i.type) + '</td><td>' + esc(i.value) + '</td><td>' + esc(time(i.firstSeen)) + '</td><td>' + esc(time(i.lastSeen)) + '</td><td>' + esc((i.channels || []).join(', ')) + '</td><td>' + esc(by) + '</td></tr>';
      })
      .concat(x.identitiesByKeyOnly.map((i) => '<tr><td>' + esc(i.type) + '</td><td>(graph key ' + esc(i.keyPrefix) + '…, no value held)</td><td>' + esc(time(i.firstSeen)) + '</td><td>' + esc(time(i.lastSeen)) + '</td><td></td><td></td></tr>'))
      .join('');
    $('consents').tBodies[0].innerHTML = x.consents.length
      ? x.consents
          .map((c) => '<tr><td>' + esc(c.consent.purpose) + '</td><td>' + esc(c.consent.channel || 'all') + '</td><td class="' + (c.consent.granted ? 'yes">yes' : 'no">no') + '</td><td>' + esc(c.sourceChannel) + '</td><td>' + esc(c.eventId) + '</td><td>' + esc(time(c.at)) + '</td></tr>')
          .join('')
      : '<tr><td colspan="6" class="note">no consent signal held</td></tr>';
    const rel = x.graph.accounts
      .map((a) => ['account', a.name || a.domain || a.accountId, a.via ? [a.via.channel, a.via.eventId, time(a.via.at)].filter(Boolean).join(' · ') : ''])
      .concat(x.graph.related.map((r) => [r.kind, 'profile ' + r.profileId, [r.channel, r.eventId, time(r.at)].filter(Boolean).join(' · ')]));
    $('relations').tBodies[0].innerHTML = rel.length ? rel.map((r) => '<tr><td>' + esc(r[0]) + '</td><td>' + esc(r[1]) + '</td><td>' + esc(r[2]) + '</td></tr>').join('') : '<tr><td colspan="3" class="note">none</td></tr>';
    $('erase-confirm').checked = false;
    $('erase').disabled = true;
    $('person').hidden = false;
  }

  $('find').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('person').hidden = true;
    current = null;
    const identity = { type: $('find-type').value, value: $('find-value').value };
    if ($('find-namespace').value.trim()) identity.namespace = $('find-namespace').value.trim();
    status('looking up…');
    try {
      current = await call('/v1/privacy/exports', { identity });
      render(current);
      status('Found profile ' + current.subject.profileId + '.');
    } catch (err) {
      status(err.message, !err.notFound);
      if (err.notFound) $('status').dataset.result = 'not-found';
      return;
    }
    $('status').dataset.result = 'found';
  });

  $('download').addEventListener('click', () => current && download('person-export-' + current.subject.profileId + '.json', current));
  $('erase-confirm').addEventListener('change', () => ($('erase').disabled = !$('erase-confirm').checked));

  $('erase').addEventListener('click', async () => {
    if (!current || !$('erase-confirm').checked) return;
    $('erase').disabled = true;
    status('erasing…');
    try {
      receipt = await call('/v1/privacy/erasures', { profileId: current.subject.profileId });
    } catch (err) {
      status(err.message, true);
      $('erase').disabled = false;
      return;
    }
    $('receipt-json').textContent = JSON.stringify(receipt, null, 2);
    $('receipt').hidden = false;
    $('person').hidden = true;
    current = null;
    status('Erased. Keep the receipt.');
    $('status').dataset.result = 'erased';
  });

  $('receipt-download').addEventListener('click', () => receipt && download('erasure-receipt-' + receipt.requestId + '.json', receipt));

  $('signin').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('signin-key').value.trim();
    if (value) sessionStorage.setItem(KEY_ITEM, value);
    else sessionStorage.removeItem(KEY_ITEM);
    $('signin-key').value = '';
    $('signin-state').textContent = value ? 'signed in' : '';
  });
  if (sessionStorage.getItem(KEY_ITEM)) $('signin-state').textContent = 'signed in';
})();
