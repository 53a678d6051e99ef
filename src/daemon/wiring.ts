import type { Config } from '../config/schema.js';
import type { FrameResult } from '../pipeline/runner.js';
import type { Decision } from '../postprocess/decision.js';
import type { EdgecamMqttOptions } from '../publish/mqtt.js';

/** One console line per classified frame: `12:00:01.250 door dog.jpg: cat 93.1% in 12.3 ms  (state cat)` (UTC). */
export function decisionLine(cameraId: string, r: FrameResult, d: Decision): string {
  const time = new Date(r.frame.timestamp).toISOString().slice(11, 23);
  const origin = r.frame.origin ? ` ${r.frame.origin.split('/').pop()}` : '';
  const change = d.changed ? `  → state ${d.previous} ⇒ ${d.stableLabel}` : `  (state ${d.stableLabel})`;
  return `${time} ${cameraId}${origin}: ${d.label} ${(d.confidence * 100).toFixed(1)}% in ${r.totalMs.toFixed(1)} ms${change}`;
}

function usesTls(url: string): boolean {
  return /^(mqtts|wss|ssl):/i.test(url);
}

/** The MQTT connection options from the config: one QoS for everything that must arrive (state, events, responses). */
export function mqttOptionsOf(m: Config['mqtt'], url: string): EdgecamMqttOptions {
  const qos = m.qos;
  return {
    url, baseTopic: m.baseTopic, cameraId: m.cameraId,
    // The schema always fills mqtt.tls (rejectUnauthorized defaults to true); passing it on for a plain mqtt:// URL
    // made every run without TLS warn "mqtt.tls is set but the URL is not mqtts://". Only a TLS URL or real TLS
    // material (which the publisher warns about on a plain URL) counts as asking for TLS.
    ...(usesTls(url) || m.tls.ca !== undefined || m.tls.cert !== undefined || m.tls.key !== undefined ? { tls: m.tls } : {}),
    // Backoff capped at 4 s: a broker that comes back is used within 5 s (issue 7), however long it was gone.
    // With the 30 s default, an 8 s outage left the daemon offline 7 s after the broker was back (test/faults).
    reconnect: { maxMs: 4000 },
    ...(m.clientId ? { clientId: m.clientId } : {}),
    ...(m.username !== undefined ? { username: m.username } : {}),
    ...(m.password !== undefined ? { password: m.password } : {}),
    qos: { status: qos, state: qos, event: qos, camera: qos, discovery: qos, response: qos },
  };
}
