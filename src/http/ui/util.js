// Small helpers every view uses.

export const $ = (id) => document.getElementById(id);

/** fetch + JSON; a non-2xx answer throws with the server's message (shown on the page as is). */
export async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(path, { cache: 'no-store', ...init });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || `${path}: HTTP ${res.status}`);
  return data;
}

export function showError(err) {
  const el = $('error');
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.textContent = err instanceof Error ? err.message : String(err);
  el.hidden = false;
}

/** Creates an element with properties and children, so views never build HTML from strings (no injection). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'style') Object.assign(el.style, v); // CSSOM, not an attribute: the page's CSP allows no inline style attributes
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export const pct = (v) => `${(v * 100).toFixed(1)} %`;

