// edgecam's page: three views over the daemon's /api. Plain ES modules, no build step, nothing fetched from elsewhere.
import { startLive, stopLive } from './live.js';
import { enterLabel, leaveLabel, refreshLabelCount } from './label.js';
import { enterModels, leaveModels } from './models.js';
import { $, showError } from './util.js';

const views = {
  live: { enter: startLive, leave: stopLive },
  label: { enter: enterLabel, leave: leaveLabel },
  models: { enter: enterModels, leave: leaveModels },
};
let current;

function show() {
  const name = (location.hash.slice(1) in views) ? location.hash.slice(1) : 'live';
  if (name === current) return;
  if (current) views[current].leave();
  current = name;
  for (const v of Object.keys(views)) {
    $(`view-${v}`).hidden = v !== name;
    const tab = $(`tab-${v}`);
    if (v === name) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  showError(null);
  document.title = `edgecam · ${name}`;
  views[name].enter();
}

/** The header chip: healthy or why not, from /healthz (the same answer systemd and uptime checks get). */
async function pollHealth() {
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    const body = await res.json();
    const chip = $('health');
    chip.textContent = body.healthy ? `healthy · ${body.state}` : `unhealthy: ${body.reasons.join('; ')}`;
    chip.className = `chip ${body.healthy ? 'ok' : 'bad'}`;
  } catch {
    $('health').textContent = 'daemon unreachable';
    $('health').className = 'chip bad';
  }
}

window.addEventListener('hashchange', show);
document.addEventListener('visibilitychange', () => {
  // A hidden tab polls nothing: the page costs the device nothing while nobody looks.
  if (!current) return;
  if (document.hidden) views[current].leave();
  else views[current].enter();
});
show();
pollHealth();
refreshLabelCount();
setInterval(() => {
  if (!document.hidden) pollHealth();
}, 5000);
setInterval(() => {
  if (!document.hidden) refreshLabelCount();
}, 15000);
