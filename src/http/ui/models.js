// Models view: the store's versions with their metrics, which one is active (and serving), activate / roll back,
// fine-tune now and its progress.
import { $, api, h, pct, showError } from './util.js';

const POLL_MS = 2000;
let timer;
let active = false;
let busy = false;
let last;

export function enterModels() {
  active = true;
  poll();
}

export function leaveModels() {
  active = false;
  clearTimeout(timer);
}

async function poll() {
  clearTimeout(timer);
  if (!active) return;
  if (!busy) {
    try {
      render(await api('/api/models'));
    } catch (err) {
      showError(err);
    }
  }
  if (active) timer = setTimeout(poll, POLL_MS);
}

/** Metric values as people read them: fractions as percentages, numbers rounded. */
function metricText(k, v) {
  if (typeof v === 'number') return /acc|precision|recall|f1|rate/i.test(k) && v <= 1 ? pct(v) : String(Number(v.toFixed(4)));
  if (v && typeof v === 'object') return JSON.stringify(v).slice(0, 80);
  return String(v);
}

function render(m) {
  last = m;
  $('models-hint').hidden = !m.hint;
  $('models-hint').textContent = m.hint ?? '';
  const prev = m.versions.find((v) => v.previous);
  const rb = $('rollback');
  rb.disabled = !prev || busy;
  rb.textContent = prev ? `Roll back to ${prev.version}` : 'Roll back';
  rb.setAttribute('aria-label', prev ? `Roll back to version ${prev.version}` : 'Roll back (no previous version)');
  $('finetune').disabled = !m.finetune || busy || /^(starting|embedding|training|evaluating|storing)$/.test(m.finetune?.state ?? '');
  renderFinetune(m.finetune);
  if (m.warning) showError(m.warning);

  $('versions').replaceChildren(...m.versions.map((v) => {
    const badges = [
      v.active && h('span', { class: 'badge active', text: 'active' }),
      v.serving && h('span', { class: 'badge serving', text: 'serving' }),
      v.previous && h('span', { class: 'badge', text: 'previous' }),
      h('span', { class: `badge status-${v.status}`, text: v.status }),
    ];
    const metrics = Object.entries(v.metrics).filter(([, x]) => typeof x !== 'object' || x === null).slice(0, 8);
    const gate = v.gate ? Object.entries(v.gate).filter(([, x]) => typeof x === 'number').slice(0, 4) : [];
    return h('li', { class: `version${v.active ? ' is-active' : ''}`, 'data-version': v.version },
      h('div', { class: 'row spread' },
        h('h3', {}, `${v.name ?? '?'} `, h('span', { class: 'mono', text: v.version })),
        h('div', { class: 'badges' }, ...badges)),
      h('p', { class: 'muted small', text: [v.created && new Date(v.created).toLocaleString(), v.parentVersion && `from ${v.parentVersion}`, v.labels && v.labels.join(', '), v.reason].filter(Boolean).join(' · ') }),
      v.error ? h('p', { class: 'error small', text: v.error }) : '',
      metrics.length || gate.length ? h('dl', { class: 'stats small' },
        ...metrics.flatMap(([k, x]) => [h('dt', { text: k }), h('dd', { text: metricText(k, x) })]),
        ...gate.flatMap(([k, x]) => [h('dt', { text: `gate ${k}` }), h('dd', { text: metricText(k, x) })])) : '',
      v.active ? '' : h('button', {
        type: 'button', disabled: busy || Boolean(v.error), 'aria-label': `Activate version ${v.version}`,
        onclick: () => change(`/api/models/activate`, { version: v.version }, `activating ${v.version}…`),
      }, 'Activate'));
  }));
}

function renderFinetune(f) {
  const box = $('finetune-state');
  box.hidden = !f || f.state === 'idle';
  if (!f || f.state === 'idle') return;
  const parts = [`Fine-tune: ${f.state}`];
  if (f.epoch !== undefined && f.epochs) parts.push(`epoch ${f.epoch} of ${f.epochs}`);
  else if (f.done !== undefined && f.total) parts.push(`${f.done} of ${f.total}`);
  if (typeof f.accuracy === 'number') parts.push(`accuracy ${pct(f.accuracy)}`);
  if (f.message) parts.push(f.message);
  $('finetune-text').textContent = parts.join(' · ');
  const bar = $('finetune-progress');
  bar.hidden = /^(failed|rejected|activated)$/.test(f.state); // finished: no bar, the text says how it ended
  if (f.epoch !== undefined && f.epochs) bar.value = Math.min(1, f.epoch / f.epochs);
  else if (f.done !== undefined && f.total) bar.value = Math.min(1, f.done / f.total);
  else bar.removeAttribute('value'); // indeterminate while embedding/evaluating
}

async function change(path, body, doing) {
  if (busy) return;
  busy = true;
  $('models-status').textContent = doing;
  if (last) render(last);
  try {
    const m = await api(path, body);
    busy = false;
    if (m.versions) render(m);
    const now = m.serving ? `serving ${m.serving.name} ${m.serving.version}` : 'done';
    $('models-status').textContent = m.started ? 'fine-tune started' : now;
    if (!m.warning) showError(null);
    if (!m.versions) poll();
  } catch (err) {
    showError(err);
    $('models-status').textContent = '';
  } finally {
    busy = false;
  }
}

$('rollback').addEventListener('click', () => change('/api/models/rollback', {}, 'rolling back…'));
$('finetune').addEventListener('click', () => change('/api/models/finetune', {}, 'starting a fine-tune…'));
$('models-refresh').addEventListener('click', poll);
