using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tokage.Client;

/// <summary>What a reservation holds room in: the tenant, or one project, application, team or user.</summary>
public sealed record TokageBudgetScope(string Kind, string? Value = null)
{
    /// <summary>The whole tenant: every budget it has.</summary>
    public static TokageBudgetScope Tenant { get; } = new("tenant");
}

/// <summary>
/// Tokage's answer to a reservation. <see cref="Granted"/>: every hard-limit budget over the scope had room. Make the
/// call inside <see cref="Attribute"/> and its event carries the reservation, which Tokage settles once the event is
/// stored. <see cref="Error"/>: Tokage could not decide (unreachable, 503) — the reservation is not granted, and the
/// app decides whether to call anyway.
/// </summary>
public sealed record TokageReservation(bool Granted, string ReservationId, decimal? RemainingUsd, DateTimeOffset? ExpiresAt, IReadOnlyList<string> LimitedBy, string? Error = null)
{
    /// <summary>Attributes the calls made until disposed to this reservation (a <see cref="TokageScope"/>).</summary>
    public IDisposable Attribute() => TokageScope.Begin(reservationId: ReservationId);
}

/// <summary>Budget reservations before a call: <c>POST /v1/entitlements/reserve</c> on the query API.</summary>
public sealed class TokageReservations(TokageOptions options, HttpClient? http = null)
{
    private readonly HttpClient http = http ?? new HttpClient { Timeout = options.CallTimeout };

    /// <summary>
    /// Holds room for <paramref name="estimatedCostUsd"/> in <paramref name="scope"/>'s hard-limit budgets for
    /// <paramref name="ttl"/> (default 2 min). The app waits for this answer (it asked for it); it never throws for
    /// Tokage's sake: failures come back as a refusal with <see cref="TokageReservation.Error"/>.
    /// </summary>
    public async Task<TokageReservation> ReserveAsync(TokageBudgetScope scope, decimal estimatedCostUsd, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        var id = Guid.CreateVersion7().ToString();
        if (options.QueryEndpoint is null)
        {
            return Refused(id, "TokageOptions.QueryEndpoint (the query API's address) is not set.");
        }

        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(options.QueryEndpoint, "/v1/entitlements/reserve"))
            {
                Content = JsonContent.Create(new
                {
                    scope = new { kind = scope.Kind, value = scope.Value },
                    // A decimal string: the amount is money, never a float.
                    estimated_cost_usd = estimatedCostUsd.ToString(CultureInfo.InvariantCulture),
                    ttl_seconds = (int)(ttl ?? TimeSpan.FromMinutes(2)).TotalSeconds,
                    reservation_id = id,
                }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
            if (!response.IsSuccessStatusCode || body is null)
            {
                return Refused(id, $"{(int)response.StatusCode}: {(string?)body?["detail"] ?? response.ReasonPhrase}");
            }

            return new TokageReservation(
                (bool)body["granted"]!, (string)body["reservation_id"]!,
                body["remaining_usd"] is { } remaining ? decimal.Parse(remaining.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture) : null,
                body["expires_at"]?.GetValue<DateTimeOffset>(),
                [.. body["limited_by"]?.AsArray().Select(b => (string)b!) ?? []]);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return Refused(id, ex.Message);
        }
    }

    private static TokageReservation Refused(string id, string error) => new(false, id, null, null, [], error);
}
