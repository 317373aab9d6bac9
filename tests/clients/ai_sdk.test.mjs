// The Vercel AI SDK (`ai` with `@ai-sdk/openai`, its default Responses model, and `@ai-sdk/open-responses`)
// against codex-serve. Run by tests/python/test_node_clients.py with CODEX_SERVE_URL and CODEX_SERVE_API_KEY.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, stepCountIs, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenResponses } from '@ai-sdk/open-responses';
import { z } from 'zod';

const base = process.env.CODEX_SERVE_URL;
const apiKey = process.env.CODEX_SERVE_API_KEY;
const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey });
const MODEL = 'gpt-5.5';

test('generateText', async () => {
  const { text } = await generateText({ model: openai(MODEL), prompt: 'hello sdk' });
  assert.equal(text, 'echo: hello sdk');
});

test('streamText', async () => {
  const result = streamText({ model: openai(MODEL), prompt: 'stream sdk' });
  let text = '';
  for await (const piece of result.textStream) text += piece;
  assert.equal(text, 'echo: stream sdk');
});

test('a multi-step tool call, reasoning in the first step', async () => {
  const steps = [];
  const { text } = await generateText({
    model: openai(MODEL),
    // Step 1 reasons, then the mock answers the same prompt with the tool call; the SDK replays the
    // reasoning as an item_reference in step 2.
    prompt: 'mock:reasoning_tool get_weather {"city":"Oslo"}',
    tools: {
      get_weather: tool({
        description: 'Weather for a city',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => `${city}: -3 C`,
      }),
    },
    stopWhen: stepCountIs(3),
    onStepFinish: (s) => steps.push(s),
  });
  assert.equal(steps.length, 2, JSON.stringify(steps.map((s) => s.finishReason)));
  assert.ok(steps[0].reasoning.length > 0, 'step 1 had reasoning');
  assert.equal(text, 'tool said: Oslo: -3 C');
});

test('@ai-sdk/open-responses', async () => {
  const provider = createOpenResponses({ name: 'codex-serve', url: `${base}/v1/responses`, apiKey });
  const { text } = await generateText({ model: provider(MODEL), prompt: 'strict client' });
  assert.equal(text, 'echo: strict client');
});
