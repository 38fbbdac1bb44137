import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";

/** How the app reaches Tokage, and how events are queued and sent. */
export interface TokageOptions {
  /** The tenant's API key with the `ingest` scope (`tok_live_…`). */
  apiKey: string;
  /** The ingestion service's HTTP address, e.g. `http://localhost:8080`. */
  endpoint: string;
  /** Stamped on every event that names none. */
  application?: string;
  environment?: string;
  /** Events per request (at most 1,000). Default 200. */
  batchSize?: number;
  /** How long an event waits for its batch to fill. Default 1,000 ms. */
  flushIntervalMs?: number;
  /** Events kept in memory; past it the oldest is dropped and counted. Default 10,000. */
  queueCapacity?: number;
  /** The longest wait between retries of a batch Tokage could not take. Default 30,000 ms. */
  maxRetryDelayMs?: number;
  /** Each request's deadline. Default 10,000 ms. */
  requestTimeoutMs?: number;
  /** Told about what metering could not do (it never throws into the app). Default: a console warning. */
  onError?: (error: unknown) => void;
}

/** Who a call is for. */
export interface Attribution {
  customer?: string;
  user?: string;
  team?: string;
  project?: string;
  application?: string;
  reservationId?: string;
}

/** Token counts in Tokage's convention: input counts every prompt token (cached ones too), output every generated one (reasoning too). */
export interface TokenUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  cache_write_1h_tokens?: number;
  reasoning_tokens?: number;
  audio_input_tokens?: number;
  audio_output_tokens?: number;
}

/** One model call, as Tokage's native ingest API takes it. */
export interface UsageEvent {
  event_id: string;
  timestamp: string;
  provider: string;
  model: string;
  usage: TokenUsage;
  customer?: string;
  user_id?: string;
  team?: string;
  project?: string;
  application?: string;
  environment?: string;
  reservation_id?: string;
  metadata?: Record<string, string>;
}

export interface TokageStatistics {
  tracked: number;
  sent: number;
  rejected: number;
  droppedOldest: number;
  dropped: number;
  usageMissing: number;
  retries: number;
}

/** Metadata saying why a call is unpriced: `usage_missing` for a call whose provider reported no usage (Tokage stores it unpriced, as such). */
export const UNPRICED_REASON = "tokage.unpriced_reason";

const scopes = new AsyncLocalStorage<Attribution>();

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits — the event id of a call whose provider gives
 * none, sortable by time.
 */
export function uuidv7(): string {
  const bytes = randomBytes(16);
  const now = BigInt(Date.now());
  for (let i = 0; i < 6; i++) {
    bytes[i] = Number((now >> BigInt(8 * (5 - i))) & 0xffn);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

type Fetch = typeof fetch;
type Provider = "openai" | "anthropic";

/**
 * Meters a Node app's LLM calls. `wrapOpenAI(client)` / `wrapAnthropic(client)` instrument a client's own HTTP calls
 * (its `fetch`), so every way of calling — `create`, streams, `.withResponse()`, stream helpers — is seen as the
 * provider answered it; `track()` queues one event without waiting, and a timer sends batches to
 * `POST /v1/events/batch`, retrying with the same event ids while Tokage is unavailable or rate-limits. Nothing it
 * does throws into the app's call or delays it.
 */
export class Tokage {
  private readonly options: Required<Omit<TokageOptions, "application" | "environment">> & Pick<TokageOptions, "application" | "environment">;
  private readonly queue: UsageEvent[] = [];
  private readonly stats: TokageStatistics = { tracked: 0, sent: 0, rejected: 0, droppedOldest: 0, dropped: 0, usageMissing: 0, retries: 0 };
  private readonly timer: NodeJS.Timeout;
  private sending: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(options: TokageOptions) {
    if (!options?.apiKey || !options?.endpoint) {
      throw new Error("Tokage needs an endpoint (the ingestion service's HTTP address) and an apiKey with the 'ingest' scope.");
    }
    this.options = {
      batchSize: 200,
      flushIntervalMs: 1_000,
      queueCapacity: 10_000,
      maxRetryDelayMs: 30_000,
      requestTimeoutMs: 10_000,
      onError: (error) => console.warn("[tokage]", error instanceof Error ? error.message : error),
      ...options,
      endpoint: options.endpoint.replace(/\/+$/, ""),
    };
    this.timer = setInterval(() => this.kick(), this.options.flushIntervalMs);
    // Metering never keeps the process alive.
    this.timer.unref();
  }

  get statistics(): TokageStatistics {
    return { ...this.stats };
  }

  /** Runs `fn` with `attribution` for every call metered inside it (across awaits); scopes nest, inner fields win. */
  withScope<T>(attribution: Attribution, fn: () => T): T {
    const outer = scopes.getStore() ?? {};
    const merged: Attribution = { ...outer };
    for (const [key, value] of Object.entries(attribution) as [keyof Attribution, string | undefined][]) {
      if (value !== undefined) merged[key] = value;
    }
    return scopes.run(merged, fn);
  }

  /** Queues one call's usage (an id and a time are given where it has none). Never throws. */
  track(event: Partial<UsageEvent> & Pick<UsageEvent, "provider" | "model">, attribution: Attribution = scopes.getStore() ?? {}): void {
    try {
      const complete: UsageEvent = {
        event_id: event.event_id || uuidv7(),
        timestamp: event.timestamp ?? new Date().toISOString(),
        provider: event.provider,
        model: event.model,
        usage: event.usage ?? {},
        customer: event.customer ?? attribution.customer,
        user_id: event.user_id ?? attribution.user,
        team: event.team ?? attribution.team,
        project: event.project ?? attribution.project,
        application: event.application ?? attribution.application ?? this.options.application,
        environment: event.environment ?? this.options.environment,
        reservation_id: event.reservation_id ?? attribution.reservationId,
        metadata: event.metadata,
      };
      this.stats.tracked++;
      if (complete.metadata?.[UNPRICED_REASON] === "usage_missing") this.stats.usageMissing++;
      if (this.stopped) {
        this.stats.dropped++;
        return;
      }
      this.queue.push(complete);
      if (this.queue.length > this.options.queueCapacity) {
        this.queue.shift();
        this.stats.droppedOldest++;
      }
      if (this.queue.length >= this.options.batchSize) this.kick();
    } catch (error) {
      this.options.onError(error);
    }
  }

  /** Sends everything queued so far (tests, short-lived scripts); resolves once Tokage took it or refused it. */
  async flush(): Promise<void> {
    while (this.queue.length > 0) {
      this.kick();
      await this.sending;
    }
    await this.sending;
  }

  /** Stops the timer and sends what is queued for up to `timeoutMs`; what is left is counted as dropped. */
  async shutdown(timeoutMs = 5_000): Promise<void> {
    clearInterval(this.timer);
    let timeout: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => (timeout = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.flush(), gaveUp]);
    clearTimeout(timeout);
    this.stopped = true;
    this.stats.dropped += this.queue.splice(0).length;
  }

  /** Instruments an OpenAI client (`openai` package): chat completions, streamed or not, and embeddings. Returns it. */
  wrapOpenAI<T extends object>(client: T): T {
    return this.wrap(client, "openai");
  }

  /** Instruments an Anthropic client (`@anthropic-ai/sdk`): messages, streamed or not (stream helpers too). Returns it. */
  wrapAnthropic<T extends object>(client: T): T {
    return this.wrap(client, "anthropic");
  }

  private wrap<T extends object>(client: T, provider: Provider): T {
    const target = client as unknown as { fetch?: Fetch };
    if (typeof target.fetch !== "function") {
      this.options.onError(new Error(`This ${provider} client has no fetch to instrument; its calls are not metered.`));
      return client;
    }
    target.fetch = meteredFetch(target.fetch, provider, this);
    return client;
  }

  /** @internal The metered call's event, attributed by the scope in effect when the call was made. */
  trackCall(provider: Provider, id: string | undefined, model: string | undefined, usage: TokenUsage | undefined, attribution: Attribution): void {
    this.track(
      {
        event_id: id && id.length <= 128 ? id : undefined,
        provider,
        model: model ?? "",
        usage: usage ?? {},
        // Visible, never silently free: the call happened and its usage is unknown.
        metadata: usage ? undefined : { [UNPRICED_REASON]: "usage_missing" },
      },
      attribution,
    );
  }

  /** @internal */
  currentScope(): Attribution {
    return scopes.getStore() ?? {};
  }

  private kick(): void {
    if (this.queue.length === 0) return;
    this.sending = this.sending.then(() => this.sendNext());
  }

  private async sendNext(): Promise<void> {
    const batch = this.queue.splice(0, this.options.batchSize);
    if (batch.length === 0) return;
    let delay = 250;
    for (;;) {
      const outcome = await this.post(batch);
      if (outcome.done) return;
      this.stats.retries++;
      if (this.stopped) {
        this.stats.dropped += batch.length;
        return;
      }
      const wait = outcome.retryAfterMs ?? delay + Math.floor(Math.random() * (delay / 2));
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
      delay = Math.min(delay * 2, this.options.maxRetryDelayMs);
    }
  }

  private async post(batch: UsageEvent[]): Promise<{ done: boolean; retryAfterMs?: number }> {
    try {
      const response = await fetch(`${this.options.endpoint}/v1/events/batch`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.options.apiKey}` },
        body: JSON.stringify({ events: batch }),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      const text = await response.text();
      if (response.status === 202 || response.status === 200 || response.status === 400) {
        // 400 with a batch answer: none was valid; the same events would be refused again.
        const answer = parse(text) as { accepted?: number; rejected?: { event_id: string; errors: { field: string; code: string }[] }[] } | undefined;
        const rejected = answer?.rejected ?? (response.status === 400 ? batch.map((e) => ({ event_id: e.event_id, errors: [] })) : []);
        this.stats.sent += answer?.accepted ?? 0;
        this.stats.rejected += rejected.length;
        for (const refused of rejected) {
          this.options.onError(new Error(`Tokage refused event ${refused.event_id}: ${refused.errors.map((e) => `${e.field} ${e.code}`).join("; ")}`));
        }
        return { done: true };
      }
      // 429 and 503 say when; 401/403 and the rest: back off and try the same events again.
      this.options.onError(new Error(`Tokage answered ${response.status} for ${batch.length} events; retrying.`));
      const retryAfter = Number(response.headers.get("retry-after"));
      return { done: false, retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? Math.min(retryAfter, 300) * 1_000 : undefined };
    } catch (error) {
      this.options.onError(error);
      return { done: false };
    }
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The client's fetch, metering the calls it makes: a JSON answer is read from a clone; a stream (server-sent events)
 * is read as it passes to the app, and its usage tracked when it ends. OpenAI streams report usage only when asked, so
 * `stream_options.include_usage` is set where the app left it unset — and the usage-only chunk that brings is kept
 * from the app, which sees the stream it asked for.
 */
function meteredFetch(base: Fetch, provider: Provider, tokage: Tokage): Fetch {
  return async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const route =
      provider === "openai"
        ? url.pathname.endsWith("/chat/completions") ? "chat" : url.pathname.endsWith("/embeddings") ? "embeddings" : undefined
        : url.pathname.endsWith("/messages") ? "messages" : undefined;
    if (!route || (init?.method ?? "GET").toUpperCase() !== "POST") return base(input, init);

    const attribution = tokage.currentScope();
    let request = typeof init?.body === "string" ? (parse(init.body) as Record<string, unknown> | undefined) : undefined;
    let injected = false;
    if (provider === "openai" && route === "chat" && request?.stream === true) {
      const streamOptions = (request.stream_options ?? {}) as Record<string, unknown>;
      if (streamOptions.include_usage === undefined) {
        request = { ...request, stream_options: { ...streamOptions, include_usage: true } };
        init = { ...init, body: JSON.stringify(request) };
        injected = true;
      }
    }

    const response = await base(input, init);
    try {
      if (!response.ok || !response.body) return response;
      if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
        response
          .clone()
          .json()
          .then((answer) => meterAnswer(tokage, provider, answer, request, attribution))
          .catch(() => undefined);
        return response;
      }
      const observer = new StreamObserver(provider, injected);
      const body = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, controller) => observer.take(chunk, controller),
          flush: (controller) => {
            observer.end(controller);
            tokage.trackCall(provider, observer.id, observer.model ?? (request?.model as string | undefined), observer.usage, attribution);
          },
        }),
      );
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    } catch (error) {
      // Metering gave up on this call; the app still gets the provider's answer.
      return response;
    }
  };
}

interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number; audio_tokens?: number };
}

interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: { ephemeral_1h_input_tokens?: number; ephemeral_5m_input_tokens?: number } | null;
}

function fromOpenAI(usage: OpenAIUsage | undefined): TokenUsage | undefined {
  if (!usage) return undefined;
  return {
    input_tokens: usage.prompt_tokens ?? 0,
    output_tokens: usage.completion_tokens ?? 0,
    cache_read_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
    audio_input_tokens: usage.prompt_tokens_details?.audio_tokens ?? 0,
    audio_output_tokens: usage.completion_tokens_details?.audio_tokens ?? 0,
  };
}

/** Anthropic counts input without its cache: the cache reads and writes are added back, as Tokage counts input. */
function fromAnthropic(usage: AnthropicUsage | undefined): TokenUsage | undefined {
  if (!usage) return undefined;
  const reads = usage.cache_read_input_tokens ?? 0;
  const writes = usage.cache_creation_input_tokens ?? 0;
  const oneHour = Math.min(writes, usage.cache_creation?.ephemeral_1h_input_tokens ?? 0);
  return {
    input_tokens: (usage.input_tokens ?? 0) + reads + writes,
    output_tokens: usage.output_tokens ?? 0,
    cache_read_tokens: reads,
    cache_write_tokens: writes - oneHour,
    cache_write_1h_tokens: oneHour,
  };
}

function meterAnswer(tokage: Tokage, provider: Provider, answer: Record<string, unknown>, request: Record<string, unknown> | undefined, attribution: Attribution): void {
  const model = (answer.model as string | undefined) ?? (request?.model as string | undefined);
  const id = typeof answer.id === "string" ? answer.id : undefined;
  const usage = provider === "openai" ? fromOpenAI(answer.usage as OpenAIUsage | undefined) : fromAnthropic(answer.usage as AnthropicUsage | undefined);
  tokage.trackCall(provider, id, model, usage, attribution);
}

/** Reads server-sent events as they pass: the response id, the model and the usage. */
class StreamObserver {
  id?: string;
  model?: string;
  usage?: TokenUsage;
  private anthropic: AnthropicUsage = {};
  private buffer = "";
  private readonly decoder = new TextDecoder();
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly provider: Provider,
    private readonly hideUsageChunk: boolean,
  ) {}

  take(chunk: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>): void {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = this.buffer.search(/\r?\n\r?\n/)) >= 0) {
      const separator = this.buffer.slice(end).match(/^\r?\n\r?\n/)![0];
      const event = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + separator.length);
      if (this.read(event)) controller.enqueue(this.encoder.encode(event + separator));
    }
  }

  end(controller: TransformStreamDefaultController<Uint8Array>): void {
    this.buffer += this.decoder.decode();
    if (this.buffer.length > 0) {
      if (this.read(this.buffer)) controller.enqueue(this.encoder.encode(this.buffer));
      this.buffer = "";
    }
  }

  /** Whether the event goes on to the app. */
  private read(event: string): boolean {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).trimStart())
      .join("\n");
    if (!data || data === "[DONE]") return true;
    const message = parse(data) as Record<string, any> | undefined;
    if (!message) return true;
    if (this.provider === "openai") {
      this.id ??= message.id;
      this.model ??= message.model;
      if (message.usage) {
        this.usage = fromOpenAI(message.usage);
        // The chunk that include_usage adds, which the app did not ask for.
        if (this.hideUsageChunk && Array.isArray(message.choices) && message.choices.length === 0) return false;
      }
      return true;
    }
    if (message.type === "message_start") {
      this.id = message.message?.id;
      this.model = message.message?.model;
      this.anthropic = { ...message.message?.usage };
      this.usage = fromAnthropic(this.anthropic);
    } else if (message.type === "message_delta" && message.usage) {
      // Cumulative counts: the last one is the call's.
      this.anthropic = { ...this.anthropic, ...Object.fromEntries(Object.entries(message.usage).filter(([, v]) => v !== null && v !== undefined)) };
      this.usage = fromAnthropic(this.anthropic);
    }
    return true;
  }
}
