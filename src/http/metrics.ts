/** One Prometheus sample family: a counter or gauge, optionally split by labels. */
export interface Metric {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: { value: number; labels?: Record<string, string> }[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(metrics: Metric[]): string {
  const lines: string[] = [];
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) {
      const labels = s.labels && Object.keys(s.labels).length
        ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
        : '';
      lines.push(`${m.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return lines.join('\n') + '\n';
}
