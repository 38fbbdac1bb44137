// The TypeScript SDK through a running Tokage: the official OpenAI and Anthropic clients against local fakes of their
// APIs, wrapped by the SDK. tests/Tokage.Client.Tests starts Tokage and the fakes and runs this with their addresses.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { Tokage, UNPRICED_REASON, uuidv7 } from "../dist/index.js";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these through tests/Tokage.Client.Tests, which starts Tokage and the fake providers.`);
  return value;
}

const apiKey = env("TOKAGE_API_KEY");
const endpoint = env("TOKAGE_ENDPOINT");
const queryUrl = env("TOKAGE_QUERY_URL");
const [prompt, cached, completion, reasoning] = env("FAKE_OPENAI_USAGE").split(",").map(Number);
const [anthropicInput, cacheWrite, cacheRead, anthropicOutput] = env("FAKE_ANTHROPIC_USAGE").split(",").map(Number);

/** The project's breakdown by model, once it counts `events`. */
async function breakdown(project, events) {
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();
  const url = `${queryUrl}/v1/usage/breakdown?from=${from}&to=${to}&group_by=model&filter[project]=${project}`;
  for (let attempt = 0; attempt < 120; attempt++) {
    const answer = await (await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } })).json();
    if (answer.totals?.events === events) return answer.rows;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${events} events of project ${project} were not stored within 60 s`);
}

test("OpenAI calls, plain, streamed and embeddings, are metered with their scope", async () => {
  const tokage = new Tokage({ apiKey, endpoint, flushIntervalMs: 100, application: "js-tests" });
  const openai = tokage.wrapOpenAI(new OpenAI({ apiKey: "sk-fake", baseURL: env("OPENAI_BASE_URL") }));
  await tokage.withScope({ project: "js-openai", customer: "acme" }, async () => {
    const answer = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Hello?" }] });
    assert.equal(answer.choices[0].message.content, "Hello from the fake.");
    const stream = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Again?" }], stream: true });
    let text = "";
    for await (const chunk of stream) {
      // The usage-only chunk the SDK asked for is not the app's: every chunk it sees has a choice.
      assert.ok(chunk.choices.length > 0);
      text += chunk.choices[0].delta.content ?? "";
    }
    assert.equal(text, "Hello from the fake.");
    await openai.embeddings.create({ model: "text-embedding-3-small", input: ["one", "two"] });
  });
  await tokage.flush();
  assert.deepEqual([tokage.statistics.tracked, tokage.statistics.sent, tokage.statistics.usageMissing], [3, 3, 0]);

  const rows = await breakdown("js-openai", 3);
  const chat = rows.find((r) => r.model === "gpt-4o");
  assert.deepEqual([chat.input_tokens, chat.cache_read_tokens, chat.output_tokens, chat.reasoning_tokens], [2 * prompt, 2 * cached, 2 * completion, 2 * reasoning]);
  assert.ok(Number(chat.cost_usd) > 0, "priced by Tokage");
  assert.equal(rows.find((r) => r.model === "text-embedding-3-small").input_tokens, 42);
  await tokage.shutdown();
});

test("Anthropic calls, plain, streamed and through the stream helper, are metered with their cache", async () => {
  const tokage = new Tokage({ apiKey, endpoint, flushIntervalMs: 100 });
  const anthropic = tokage.wrapAnthropic(new Anthropic({ apiKey: "sk-ant-fake", baseURL: env("ANTHROPIC_BASE_URL") }));
  await tokage.withScope({ project: "js-anthropic" }, async () => {
    const request = { model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "Hello?" }] };
    const answer = await anthropic.messages.create(request);
    assert.equal(answer.content[0].text, "Hello from the fake.");
    let text = "";
    for await (const event of await anthropic.messages.create({ ...request, stream: true })) {
      if (event.type === "content_block_delta") text += event.delta.text;
    }
    assert.equal(text, "Hello from the fake.");
    const final = await anthropic.messages.stream(request).finalMessage();
    assert.equal(final.content[0].text, "Hello from the fake.");
  });
  await tokage.flush();

  const [row] = await breakdown("js-anthropic", 3);
  assert.deepEqual(
    [row.model, row.input_tokens, row.cache_read_tokens, row.cache_write_tokens, row.output_tokens],
    ["claude-sonnet-4-5", 3 * (anthropicInput + cacheWrite + cacheRead), 3 * cacheRead, 3 * cacheWrite, 3 * anthropicOutput],
  );
  await tokage.shutdown();
});

test("A stream the provider ends without usage is sent as usage_missing", async () => {
  const tokage = new Tokage({ apiKey, endpoint, flushIntervalMs: 100 });
  const openai = tokage.wrapOpenAI(new OpenAI({ apiKey: "sk-fake", baseURL: env("OPENAI_BASE_URL") }));
  await tokage.withScope({ project: "js-missing" }, async () => {
    // The app asked not to include usage: the SDK leaves the request alone, and the call is still counted.
    const stream = await openai.chat.completions.create({
      model: "gpt-4o", messages: [{ role: "user", content: "Hi" }], stream: true, stream_options: { include_usage: false },
    });
    for await (const _ of stream) {
      // read to the end
    }
  });
  await tokage.flush();
  assert.equal(tokage.statistics.usageMissing, 1);
  // Stored, and unpriced rather than free.
  const [row] = await breakdown("js-missing", 1);
  assert.equal(row.unpriced_events, 1);
  assert.equal(row.cost_usd, null);
  await tokage.shutdown();
});

test("With Tokage away the app's calls answer, nothing throws, and shutdown gives up in time", async () => {
  const errors = [];
  const tokage = new Tokage({ apiKey, endpoint: "http://127.0.0.1:9", flushIntervalMs: 50, maxRetryDelayMs: 100, onError: (e) => errors.push(e) });
  const openai = tokage.wrapOpenAI(new OpenAI({ apiKey: "sk-fake", baseURL: env("OPENAI_BASE_URL") }));
  for (let i = 0; i < 5; i++) {
    const answer = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: `call ${i}` }] });
    assert.equal(answer.choices[0].message.content, "Hello from the fake.");
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.ok(tokage.statistics.retries > 0, "the sender retried");
  const started = Date.now();
  await tokage.shutdown(300);
  assert.ok(Date.now() - started < 5_000);
  assert.equal(tokage.statistics.sent, 0);
  assert.ok(errors.length > 0);
});

test("Event ids without a provider's are UUIDv7s, in time order", () => {
  const first = uuidv7();
  const second = uuidv7();
  assert.match(first, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(first.slice(0, 13) <= second.slice(0, 13));
  assert.equal(UNPRICED_REASON, "tokage.unpriced_reason");
});
