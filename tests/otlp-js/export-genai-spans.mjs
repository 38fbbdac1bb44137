// Exports an agent span around two GenAI model-call spans to Tokage with the OpenTelemetry JS SDK, the way an
// instrumented Node app would, and prints the ids it used as JSON. Environment: TOKAGE_OTLP_URL (…/v1/traces),
// TOKAGE_API_KEY, TOKAGE_OTLP_ENCODING (json | proto).
import { context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';

const { TOKAGE_OTLP_URL: url, TOKAGE_API_KEY: key, TOKAGE_OTLP_ENCODING: encoding = 'json' } = process.env;
const Exporter = encoding === 'proto' ? ProtoExporter : JsonExporter;
const exporter = new Exporter({ url, headers: { Authorization: `Bearer ${key}` } });
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'js-support-bot', 'tokage.team': 'web' }),
  // Each span is exported as it ends: the children reach Tokage before their parent, in requests of their own.
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('tokage-otlp-test');

const agent = tracer.startSpan('invoke_agent helpdesk', { attributes: { 'gen_ai.operation.name': 'invoke_agent' } });
const inAgent = trace.setSpan(context.active(), agent);
const calls = [
  ['openai', 'gpt-4o', 1000, 100],
  ['anthropic', 'claude-sonnet-4-5', 2000, 50],
].map(([provider, model, input, output]) => {
  const span = tracer.startSpan(`chat ${model}`, {
    attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': provider, 'gen_ai.request.model': model,
      'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': output, 'user.id': 'js-user',
    },
  }, inAgent);
  span.end();
  return span.spanContext().spanId;
});
agent.setAttributes({ 'gen_ai.usage.input_tokens': 3000, 'gen_ai.usage.output_tokens': 150 });
agent.end();
await provider.forceFlush();
await provider.shutdown();

console.log(JSON.stringify({ traceId: agent.spanContext().traceId, agent: agent.spanContext().spanId, calls }));
