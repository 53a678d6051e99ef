// Live view: the newest frame (polled, at most FRAME_FPS), the stable label, every class score, the smoothing state,
// the model and the pipeline's figures.
import { $, api, h, pct, showError } from './util.js';

const POLL_MS = 500;
/** A few frames per second at most: the image costs a socket write on the device, but a phone on Wi-Fi pays more. */
const FRAME_FPS = 2.5;

let timer;
let running = false;
let shownFrame = '';
let frameLoading = false;
let lastFrameAt = 0;

export function startLive() {
  if (running) return;
  running = true;
  tick();
}

export function stopLive() {
  running = false;
  clearTimeout(timer);
}

async function tick() {
  if (!running) return;
  try {
    render(await api('/api/live'));
    showError(null);
  } catch (err) {
    showError(err);
  }
  if (running) timer = setTimeout(tick, POLL_MS);
}

function loadFrame(frame) {
  const now = performance.now();
  if (!frame || frame.id === shownFrame || frameLoading || now - lastFrameAt < 1000 / FRAME_FPS) return;
  frameLoading = true;
  lastFrameAt = now;
  const img = $('frame');
  const done = (ok) => {
    frameLoading = false;
    if (ok) {
      shownFrame = frame.id;
      img.dataset.frameId = frame.id;
    }
  };
  img.onload = () => done(true);
  img.onerror = () => done(false);
  img.src = `/api/frame?id=${encodeURIComponent(frame.id)}`;
}

function render(s) {
  loadFrame(s.frame);
  $('frame-caption').textContent = s.frame
    ? `frame ${s.frame.seq}${s.frame.origin ? ` · ${s.frame.origin}` : ''} · ${new Date(s.frame.time).toLocaleTimeString()}`
    : `waiting for the camera (${s.camera.status})…`;

  $('stable-label').textContent = s.stable.label;
  $('stable-confidence').textContent = s.stable.label === 'unknown' ? '' : pct(s.stable.confidence);
  const c = s.stable.candidate;
  $('candidate').textContent = c ? `${c.label} is taking over: held ${(c.heldMs / 1000).toFixed(1)} s of ${(c.needMs / 1000).toFixed(1)} s` : '';

  const list = $('scores');
  const top = s.classified?.label;
  list.replaceChildren(...s.scores.map((row) => h('li', { class: row.label === top ? 'top' : '' },
    h('span', { class: 'name', text: row.label }),
    h('span', { class: 'bar', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '1', 'aria-valuenow': String(row.score), 'aria-label': `${row.label} score` },
      h('span', { class: 'fill', style: { width: `${(row.score * 100).toFixed(1)}%` } }),
      h('span', { class: 'smoothed', style: { left: `${(row.smoothed * 100).toFixed(1)}%` }, title: `smoothed ${pct(row.smoothed)}` }),
      h('span', { class: 'enter', style: { left: `${(row.enter * 100).toFixed(1)}%` }, title: `needs ${pct(row.enter)} to become the label` })),
    h('span', { class: 'value', text: `${pct(row.score)}${row.votes !== undefined ? ` · ${row.votes} vote${row.votes === 1 ? '' : 's'}` : ''}` }))));

  const sm = s.smoothing;
  $('smoothing').textContent = (sm.method === 'vote'
    ? `Smoothing: ${sm.required} of the last ${sm.window} frames must agree (${sm.framesInWindow} in the window)`
    : `Smoothing: moving average, newest frame weighs ${sm.alpha}`)
    + `; enter ${pct(sm.enter)}, keep above ${pct(sm.exit)}, hold ${(sm.minDwellMs / 1000).toFixed(1)} s, unknown below ${pct(sm.minConfidence)}. `
    + 'Bar: this frame; line: smoothed; tick: threshold.';

  $('model').textContent = s.model ? `${s.model.name} ${s.model.version} on ${s.model.provider}` : 'no model loaded';

  const ms = (v) => (v === null || v === undefined ? '–' : `${v} ms`);
  const stats = [
    ['Frame rate', s.fps === null ? 'measuring…' : `${s.fps} fps`],
    ['Latency p50 / p99', `${ms(s.latencyMs.p50)} / ${ms(s.latencyMs.p99)}`],
    ['Inference p50', ms(s.inferenceMs.p50)],
    ['Frames classified', String(s.counters.classified)],
    ['Dropped (busy)', String(s.counters.dropped)],
    ['Failed', String(s.counters.failed)],
    ['Camera', `${s.camera.status}${s.camera.restarts ? ` · ${s.camera.restarts} restarts` : ''}`],
    ['MQTT', s.mqtt ? (s.mqtt.connected ? 'connected' : 'disconnected') : '–'],
  ];
  $('stats').replaceChildren(...stats.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
}
