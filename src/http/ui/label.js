// Label view: unlabelled frames, most uncertain first. One click on a class (or its number key on the selected frame)
// labels a frame through the same code as `edgecam label set`; undo puts it back.
import { $, api, h, pct, showError } from './util.js';

let classes = [];
let frames = [];
let selected = 0;
const extraClasses = [];
const undoStack = [];
let active = false;
let busy = false;

export async function refreshLabelCount() {
  try {
    const data = await api('/api/label/count');
    $('label-count').textContent = data.unlabelled ? String(data.unlabelled) : '';
  } catch {
    // the header badge is a nicety; the view itself reports errors
  }
}

export function enterLabel() {
  active = true;
  document.addEventListener('keydown', onKey);
  load();
}

export function leaveLabel() {
  active = false;
  document.removeEventListener('keydown', onKey);
}

async function load() {
  try {
    const data = await api('/api/label/frames');
    classes = [...new Set([...data.classes, ...extraClasses])];
    frames = data.frames;
    $('label-count').textContent = data.unlabelled ? String(data.unlabelled) : '';
    const counts = Object.entries(data.labelledCounts).map(([c, n]) => `${n} ${c}`).join(', ');
    $('label-status').textContent = `${data.unlabelled} unlabelled${data.unlabelled > frames.length ? ` (showing the ${frames.length} most uncertain)` : ''}${counts ? ` · labelled: ${counts}` : ''}`;
    selected = Math.min(selected, Math.max(0, frames.length - 1));
    render();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

function render() {
  $('label-keys').replaceChildren(...classes.slice(0, 9).map((c, i) => h('span', { class: 'key' }, h('kbd', { text: String(i + 1) }), ` ${c}`)));
  $('label-empty').hidden = frames.length > 0;
  $('undo').disabled = undoStack.length === 0;
  $('undo').textContent = undoStack.length ? `Undo (${undoStack[undoStack.length - 1].to})` : 'Undo';
  $('label-grid').replaceChildren(...frames.map((f, i) => card(f, i)));
}

function card(f, i) {
  const p = f.predicted;
  const caption = p ? `model: ${p.label} ${pct(p.confidence)}` : 'model: no prediction';
  const li = h('li', {
    class: `card${i === selected ? ' selected' : ''}`, tabindex: '0', 'data-id': f.id,
    'aria-label': `Frame ${f.id}, ${caption}`, 'aria-selected': i === selected ? 'true' : 'false',
    onfocus: () => select(i, false),
  },
  h('img', { src: `/api/label/image/${encodeURIComponent(f.id)}`, alt: `Frame ${f.id}`, loading: 'lazy', width: '320', height: '240' }),
  h('p', { class: 'small' }, h('strong', { text: caption }), h('span', { class: 'muted', text: ` · uncertainty ${f.uncertainty.toFixed(2)}${f.reason ? ` · ${f.reason}` : ''}` })),
  h('div', { class: 'choices' }, ...classes.map((c, k) => h('button', {
    type: 'button', class: p && p.label === c ? 'predicted' : '',
    'aria-label': `Label frame ${f.id} as ${c}${k < 9 ? ` (key ${k + 1})` : ''}`,
    onclick: (e) => { e.stopPropagation(); assign(f.id, c); },
  }, k < 9 ? h('kbd', { text: String(k + 1) }) : '', ` ${c}`))));
  return li;
}

function select(i, focus = true) {
  if (!frames.length) return;
  selected = Math.max(0, Math.min(frames.length - 1, i));
  const cards = $('label-grid').children;
  for (let k = 0; k < cards.length; k++) {
    cards[k].classList.toggle('selected', k === selected);
    cards[k].setAttribute('aria-selected', k === selected ? 'true' : 'false');
  }
  if (focus) cards[selected]?.focus({ preventScroll: false });
}

async function assign(id, label) {
  if (busy) return;
  busy = true;
  try {
    const result = await api('/api/label', { ids: [id], label });
    const moved = result.labelled.find((l) => l.id === id);
    undoStack.push({ id, from: moved?.from ?? null, to: label });
    const at = frames.findIndex((f) => f.id === id);
    if (at >= 0) frames.splice(at, 1);
    selected = Math.min(at >= 0 ? at : selected, frames.length - 1);
    $('label-status').textContent = `labelled ${id} as ${label}`;
    render();
    select(selected);
    showError(null);
  } catch (err) {
    showError(err);
  } finally {
    busy = false;
  }
}

async function undo() {
  const last = undoStack.pop();
  if (!last || busy) return;
  busy = true;
  try {
    await api('/api/label/undo', { id: last.id, label: last.from });
    $('label-status').textContent = `undone: ${last.id} is ${last.from ?? 'unlabelled'} again`;
    await load();
    const at = frames.findIndex((f) => f.id === last.id);
    if (at >= 0) select(at);
  } catch (err) {
    undoStack.push(last);
    showError(err);
  } finally {
    busy = false;
    render();
  }
}

function onKey(e) {
  if (!active || e.target instanceof HTMLInputElement || e.altKey || e.metaKey) return;
  if ((e.key === 'z' && e.ctrlKey) || (e.key === 'u' && !e.ctrlKey)) {
    e.preventDefault();
    undo();
    return;
  }
  if (e.ctrlKey) return;
  if (/^[1-9]$/.test(e.key)) {
    const c = classes[Number(e.key) - 1];
    const f = frames[selected];
    if (c && f) {
      e.preventDefault();
      assign(f.id, c);
    }
  } else if (e.key === 'ArrowRight' || e.key === 'ArrowDown') {
    e.preventDefault();
    select(selected + 1);
  } else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') {
    e.preventDefault();
    select(selected - 1);
  }
}

$('undo').addEventListener('click', undo);
$('label-refresh').addEventListener('click', load);
$('new-class').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('new-class-name').value.trim();
  if (!name) return;
  // Checked for real by the server when a frame gets it (same rules as `edgecam label set`).
  if (!classes.includes(name)) extraClasses.push(name);
  $('new-class-name').value = '';
  classes = [...new Set([...classes, name])];
  render();
});
