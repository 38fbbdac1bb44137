using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Tokage.Testing;

/// <summary>
/// A local stand-in for Stripe's meter events endpoint, speaking its documented wire format: <c>POST
/// /v1/billing/meter_events</c>, form-encoded (<c>event_name</c>, <c>identifier</c>, <c>payload[stripe_customer_id]</c>,
/// <c>payload[value]</c>, <c>timestamp</c>), a bearer secret key. It keeps Stripe's two guards against counting twice: a
/// repeated <c>Idempotency-Key</c> gets the first answer replayed, and an identifier already counted is refused (400,
/// <c>resource_already_exists</c>). Failures are scripted: <see cref="Script"/> answers the next requests with 429, 500, or
/// "lost" (counted, then a 500, as when the answer never reached the client).
/// </summary>
public sealed class FakeStripe : IAsyncDisposable
{
    public sealed record MeterEvent(string EventName, string Identifier, string Customer, long Value, long Timestamp);

    private readonly ConcurrentDictionary<string, string> replies = new();
    private readonly object gate = new();
    private LocalWebServer server = null!;

    public Uri ApiBase { get; private set; } = null!;

    /// <summary>The secret key requests must carry.</summary>
    public required string SecretKey { get; init; }

    /// <summary>Customers that exist; a meter event for another is refused (400), as Stripe refuses an unknown customer.</summary>
    public HashSet<string> Customers { get; init; } = [];

    /// <summary>How the next requests are answered before normal service: "429", "500" or "lost".</summary>
    public ConcurrentQueue<string> Script { get; } = new();

    /// <summary>Every meter event counted, once per identifier.</summary>
    public ConcurrentDictionary<string, MeterEvent> Counted { get; } = new();

    /// <summary>Every request received, with the answer's status code.</summary>
    public ConcurrentQueue<(string Identifier, int Status)> Requests { get; } = new();

    public static async Task<FakeStripe> StartAsync(string secretKey, params string[] customers)
    {
        var fake = new FakeStripe { SecretKey = secretKey, Customers = [.. customers] };
        fake.server = await LocalWebServer.StartAsync(app => app.MapPost("/v1/billing/meter_events", (Delegate)fake.CreateAsync));
        fake.ApiBase = fake.server.Address;
        return fake;
    }

    /// <summary>The sum of the values counted for a meter, customer and hour.</summary>
    public long Total(string eventName, string customer, DateTimeOffset hour) =>
        Counted.Values.Where(e => e.EventName == eventName && e.Customer == customer && e.Timestamp == hour.ToUnixTimeSeconds()).Sum(e => e.Value);

    private async Task<IResult> CreateAsync(HttpContext http)
    {
        if (http.Request.Headers.Authorization.ToString() != $"Bearer {SecretKey}")
        {
            return Error(401, "authentication_error", null, "Invalid API Key provided.");
        }

        var form = await http.Request.ReadFormAsync();
        var identifier = form["identifier"].ToString();
        var idempotencyKey = http.Request.Headers["Idempotency-Key"].ToString();
        lock (gate)
        {
            if (idempotencyKey.Length > 0 && replies.TryGetValue(idempotencyKey, out var replay))
            {
                Requests.Enqueue((identifier, 200));
                return Results.Text(replay, "application/json", statusCode: 200);
            }

            var scripted = Script.TryDequeue(out var step) ? step : null;
            if (scripted is "429" or "500")
            {
                Requests.Enqueue((identifier, int.Parse(scripted)));
                return scripted == "429" ? Error(429, "invalid_request_error", "rate_limit", "Too many requests hit the API too quickly.")
                    : Error(500, "api_error", null, "Something went wrong on Stripe's end.");
            }

            var customer = form["payload[stripe_customer_id]"].ToString();
            if (!Customers.Contains(customer))
            {
                Requests.Enqueue((identifier, 400));
                return Error(400, "invalid_request_error", "resource_missing", $"No such customer: '{customer}'");
            }

            if (Counted.ContainsKey(identifier))
            {
                Requests.Enqueue((identifier, 400));
                return Error(400, "invalid_request_error", "resource_already_exists", $"An event already exists with identifier {identifier}.");
            }

            var value = long.Parse(form["payload[value]"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
            var timestamp = long.Parse(form["timestamp"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
            Counted[identifier] = new MeterEvent(form["event_name"].ToString(), identifier, customer, value, timestamp);
            var body = new JsonObject
            {
                ["object"] = "billing.meter_event", ["event_name"] = form["event_name"].ToString(), ["identifier"] = identifier,
                ["payload"] = new JsonObject { ["stripe_customer_id"] = customer, ["value"] = value.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                ["timestamp"] = timestamp, ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["livemode"] = false,
            }.ToJsonString();
            if (idempotencyKey.Length > 0)
            {
                replies[idempotencyKey] = body;
            }

            Requests.Enqueue((identifier, scripted == "lost" ? 500 : 200));
            return scripted == "lost" ? Error(500, "api_error", null, "The connection was reset.") : Results.Text(body, "application/json", statusCode: 200);
        }
    }

    private static IResult Error(int status, string type, string? code, string message) => Results.Json(
        new JsonObject { ["error"] = new JsonObject { ["type"] = type, ["code"] = code, ["message"] = message } }, statusCode: status);

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
