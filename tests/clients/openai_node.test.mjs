// openai-node (`openai` on npm) against codex-serve: chat and Responses streams, tools, the usage-limit
// error (final: it must come back at once), and a WebSocket close. Run by tests/python/test_node_clients.py
// with CODEX_SERVE_URL (loopback TCP) and CODEX_SERVE_API_KEY set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import WebSocket from 'ws';

const base = process.env.CODEX_SERVE_URL;
const apiKey = process.env.CODEX_SERVE_API_KEY;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey });
const MODEL = 'gpt-5.5';

test('chat completion stream', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, stream: true, messages: [{ role: 'user', content: 'hello node' }],
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, 'echo: hello node');
});

test('responses stream', async () => {
  const stream = await client.responses.create({ model: MODEL, input: 'stream me', stream: true });
  const types = [];
  let text = '';
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
  }
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.equal(text, 'echo: stream me');
});

test('a tool round trip over Responses', async () => {
  const tools = [{ type: 'function', name: 'get_weather', description: 'Weather for a city', strict: false,
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
  const first = await client.responses.create({ model: MODEL, tools, input: 'mock:tool get_weather {"city":"Oslo"}' });
  const call = first.output.find((i) => i.type === 'function_call');
  assert.ok(call, JSON.stringify(first.output));
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.arguments), { city: 'Oslo' });
  const second = await client.responses.create({
    model: MODEL, tools, previous_response_id: first.id,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '-3 C' }],
  });
  assert.equal(second.output_text, 'tool said: -3 C');
});

test('the usage-limit error comes back at once', async () => {
  const started = Date.now();
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'mock:usage_limit' }] }),
    (err) => {
      assert.equal(err.status, 429);
      assert.equal(err.headers.get('x-should-retry'), 'false');
      assert.ok(Number(err.headers.get('retry-after')) > 60, 'Retry-After still says when it resets');
      return true;
    },
  );
  // The SDK's default is two retries honouring Retry-After (minutes here): none happened.
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
});

test('a WebSocket close is answered', async () => {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/responses`, { headers: { authorization: `Bearer ${apiKey}` } });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const code = await new Promise((resolve) => { ws.once('close', (c) => resolve(c)); ws.close(1000, 'done'); });
  assert.equal(code, 1000, 'not 1006: the server answered the Close frame');
});
