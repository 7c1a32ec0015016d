// worker.js: the peer of tests/bench/bench-send.sh. The same work as
// send-due, done the common Node.js way: one graphile-worker job per due
// step, each claimed from PostgreSQL by graphile-worker, then for each job
//   1. read the step, its prospect, template and sender (one SELECT),
//   2. render subject and body ({{var|fallback}}, HTML-escaped),
//   3. POST /me/messages (the same JSON and headers as drip), wait 201,
//   4. POST /me/messages/{id}/send, wait 202,
//   5. UPDATE the step to 'sent' (one UPDATE),
// after which graphile-worker completes the job (its own DELETE).
// A 429 waits for Retry-After and tries again, as drip does.
//
//   node worker.js tokens   access tokens for drip's mailboxes (device flow)
//   node worker.js migrate  install graphile-worker's schema
//   node worker.js run N    work until N jobs are done; print one JSON line
//
// Environment: PEER_DB (a postgres:// URI), DRIP_GRAPH_URL, DRIP_LOGIN_URL,
// MOCK_URL, PEER_CONCURRENCY (default 32), PEER_POOL (default concurrency
// + 2, at most 100), PEER_LOCAL_QUEUE (default concurrency + 1; 0 off),
// PEER_COMPLETE_BATCH_MS (default 0; -1 off).
import http from 'node:http';
import { Logger, run, runMigrations } from 'graphile-worker';
import pg from 'pg';

const env = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? process.env[k] : d);
const connectionString = env('PEER_DB');
const graph = new URL(env('DRIP_GRAPH_URL', ''));
const concurrency = Number(env('PEER_CONCURRENCY', 32));
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function request(method, path, token, body) {
	return new Promise((resolve, reject) => {
		const headers = {
			Accept: 'application/json',
			Authorization: `Bearer ${token}`,
			Prefer: 'IdType="ImmutableId"',
			'User-Agent': 'peer/0.0.0',
			'Accept-Encoding': 'gzip, deflate',
			'Content-Length': body ? Buffer.byteLength(body) : 0,
		};
		if (body)
			headers['Content-Type'] = 'application/json';
		const req = http.request({
			agent, method, host: graph.hostname, port: graph.port,
			path: graph.pathname + path, headers,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({
				status: res.statusCode, headers: res.headers,
				body: Buffer.concat(chunks).toString('utf8'),
			}));
			res.on('error', reject);
		});
		req.on('error', reject);
		req.end(body || undefined);
	});
}

const stats = { throttled: 0 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A Graph call; 429 and 503 wait for Retry-After and go again.
async function call(method, path, token, body, want) {
	for (let attempt = 1; ; attempt++) {
		const r = await request(method, path, token, body);
		if (r.status === want)
			return r;
		if ((r.status === 429 || r.status === 503) && attempt < 8) {
			stats.throttled++;
			await sleep(1000 * Number(r.headers['retry-after'] || 1));
			continue;
		}
		throw new Error(`${method} ${path}: ${r.status} ${r.body.slice(0, 200)}`);
	}
}

const escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function render(tmpl, vars, html) {
	return tmpl.replace(/\{\{\s*([A-Za-z0-9_]+)\s*(?:\|([^}]*))?\}\}/g, (m, name, fallback) => {
		let v = vars[name];
		if (v === undefined || v === null || v === '') {
			if (fallback === undefined)
				throw new Error(`template: {{${name}}} has no value`);
			v = fallback;
		}
		v = String(v);
		return html ? v.replace(/[&<>"']/g, (c) => escapes[c]) : v;
	});
}

const detailsSql = `
SELECT s.id, c.identity_id, p.email, p.first_name, p.last_name, p.company,
       p.title, p.fields, t.subject, t.body_text, t.body_html,
       i.email AS sender_email, i.display_name AS sender_name
  FROM drip.email_campaign_prospect_step s
  JOIN drip.email_campaign_prospect p ON p.id = s.prospect_id
  JOIN drip.email_campaign_template t ON t.campaign_id = s.campaign_id AND t.step = s.step
  JOIN drip.email_campaign c ON c.id = s.campaign_id
  JOIN drip.email_identity i ON i.id = c.identity_id
 WHERE s.id = $1`;

// graphile-worker's own log: errors only (a line per job would cost the
// peer time that drip, run with -q, does not spend either).
const quiet = new Logger(() => (level, message) => {
	if (level === 'error')
		console.error(`peer: ${message}`);
});

const tokens = new Map();
let done = 0, target = 0, first = 0, last = 0, onAllDone = null;

async function send(payload, helpers) {
	if (!first)
		first = performance.now();
	const { rows } = await helpers.query(detailsSql, [payload.step_id]);
	const s = rows[0];
	if (!s)
		throw new Error(`step ${payload.step_id}: not found`);
	const token = tokens.get(String(s.identity_id));
	const vars = { ...s.fields, email: s.email, first_name: s.first_name,
		last_name: s.last_name, company: s.company, title: s.title,
		sender_name: s.sender_name, sender_email: s.sender_email };
	const html = s.body_html !== null;
	const draft = JSON.stringify({
		subject: render(s.subject, vars, false),
		body: { contentType: html ? 'html' : 'text',
			content: render(html ? s.body_html : s.body_text, vars, html) },
		toRecipients: [{ emailAddress: { address: s.email } }],
		internetMessageHeaders: [{ name: 'x-drip-step', value: String(s.id) }],
	});
	const r = await call('POST', '/me/messages', token, draft, 201);
	const id = JSON.parse(r.body).id;
	await call('POST', `/me/messages/${encodeURIComponent(id)}/send`, token, '', 202);
	await helpers.query(`UPDATE drip.email_campaign_prospect_step
		SET status = 'sent', sent_at = now(), last_error = NULL WHERE id = $1`, [s.id]);
	last = performance.now();
	if (++done === target && onAllDone)
		onAllDone();
}

async function loadTokens() {
	const c = new pg.Client({ connectionString });
	await c.connect();
	const { rows } = await c.query('SELECT identity_id::text, access_token FROM bench_peer.token');
	for (const r of rows)
		tokens.set(r.identity_id, r.access_token);
	await c.end();
}

// Access tokens of our own for drip's mailboxes (drip's are sealed):
// the device flow, approved through the mock's control API.
async function getTokens() {
	const login = env('DRIP_LOGIN_URL');
	const mock = env('MOCK_URL');
	const c = new pg.Pool({ connectionString, max: 16 });
	await c.query('CREATE SCHEMA IF NOT EXISTS bench_peer');
	await c.query('CREATE TABLE IF NOT EXISTS bench_peer.token (identity_id bigint PRIMARY KEY, access_token text NOT NULL)');
	const { rows } = await c.query(`SELECT id, email FROM drip.email_identity
		WHERE status = 'connected' AND email LIKE 'm%@acme.example' ORDER BY id`);
	const form = (o) => new URLSearchParams(o).toString();
	const post = async (url, body, type) => {
		const r = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': type } });
		return [r.status, await r.json()];
	};
	let next = 0;
	async function one() {
		while (next < rows.length) {
			const row = rows[next++];
			const [, dc] = await post(`${login}/common/oauth2/v2.0/devicecode`,
				form({ client_id: 'bench-peer', scope: 'Mail.Send Mail.ReadWrite' }),
				'application/x-www-form-urlencoded');
			const [st] = await post(`${mock}/_mock/devicecode/approve`,
				JSON.stringify({ user_code: dc.user_code, email: row.email }), 'application/json');
			if (st !== 200)
				throw new Error(`approve ${row.email}: ${st}`);
			const [ts, tok] = await post(`${login}/common/oauth2/v2.0/token`,
				form({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
					client_id: 'bench-peer', device_code: dc.device_code }),
				'application/x-www-form-urlencoded');
			if (ts !== 200)
				throw new Error(`token ${row.email}: ${ts}`);
			await c.query(`INSERT INTO bench_peer.token VALUES ($1, $2)
				ON CONFLICT (identity_id) DO UPDATE SET access_token = excluded.access_token`,
				[row.id, tok.access_token]);
		}
	}
	await Promise.all(Array.from({ length: 16 }, one));
	await c.end();
	console.log(JSON.stringify({ tokens: rows.length }));
}

async function main() {
	const mode = process.argv[2];
	if (mode === 'tokens')
		return getTokens();
	if (mode === 'migrate')
		return runMigrations({ connectionString, logger: quiet });
	if (mode !== 'run')
		throw new Error('usage: node worker.js tokens | migrate | run N');
	target = Number(process.argv[3]);
	await loadTokens();
	const pool = Number(env('PEER_POOL', Math.min(concurrency + 2, 100)));
	const lq = Number(env('PEER_LOCAL_QUEUE', concurrency + 1));
	const started = performance.now();
	const allDone = new Promise((r) => { onAllDone = r; });
	const runner = await run({
		connectionString,
		concurrency,
		maxPoolSize: pool,
		pollInterval: 100,
		noHandleSignals: false,
		taskList: { send },
		preset: {
			worker: {
				localQueue: lq > 1 ? { size: lq } : undefined,
				completeJobBatchDelay: Number(env('PEER_COMPLETE_BATCH_MS', 0)),
			},
		},
		logger: quiet,
	});
	let failures = 0;
	runner.events.on('job:error', () => failures++);
	const limit = Number(env('PEER_TIMEOUT', 600)) * 1000;
	const timer = setTimeout(() => onAllDone && onAllDone(), limit);
	await allDone;
	clearTimeout(timer);
	const seconds = (performance.now() - started) / 1000;
	await runner.stop();
	console.log(JSON.stringify({
		done, failures, throttled: stats.throttled, seconds,
		busy_seconds: (last - first) / 1000, concurrency, pool, local_queue: lq,
	}));
	agent.destroy();
}

main().catch((e) => { console.error(`peer: ${e.stack || e}`); process.exit(1); });
