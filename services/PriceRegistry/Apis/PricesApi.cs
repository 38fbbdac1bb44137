using System.Globalization;
using Tokage.Pricing;
using Tokage.PriceRegistry.Prices;

namespace Tokage.PriceRegistry.Apis;

/// <summary>
/// <c>GET /v1/prices?provider=&amp;model=&amp;at=</c>: the price in effect at an instant (default now), and how the model
/// name was resolved; <c>GET /v1/prices/{provider}/{model}/history</c>: every version. Prices are decimal strings
/// (USD per token), LiteLLM's field names.
/// </summary>
public static class PricesApi
{
    public static void MapPricesApi(this WebApplication app)
    {
        var prices = app.MapGroup("/v1/prices").WithTags("Prices");
        prices.MapGet("/", (string? provider, string? model, string? at, PriceBook book, TimeProvider time) =>
        {
            if (string.IsNullOrWhiteSpace(model))
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "'model' is required (and 'provider' helps: openai, anthropic, gcp.gemini, …).");
            }

            var instant = time.GetUtcNow();
            if (at is not null && !DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out instant))
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "'at' must be an RFC 3339 date-time, e.g. 2026-11-20T10:15:02Z.");
            }

            return book.Find(provider ?? "", model, instant) is { } answer
                ? Results.Ok(new
                {
                    model = answer.Version.ModelKey,
                    provider = answer.Version.Provider,
                    resolution = Name(answer.How),
                    version_id = answer.Version.Id,
                    effective_from = answer.Version.EffectiveFrom,
                    source = answer.Version.Source,
                    prices = answer.Version.Prices,
                })
                : Results.Problem(statusCode: StatusCodes.Status404NotFound,
                    detail: $"No price for model '{model}' (provider '{provider}') at {instant:O}: its events are stored unpriced, never as $0.");
        });

        prices.MapGet("/{provider}/{**model}", (string provider, string model, PriceBook book) =>
        {
            if (!model.EndsWith("/history", StringComparison.Ordinal))
            {
                return Results.NotFound();
            }

            var name = model[..^"/history".Length];
            return book.History(provider, name) is { } versions
                ? Results.Ok(new
                {
                    model = versions[0].ModelKey,
                    versions = versions.Select(v => new { version_id = v.Id, effective_from = v.EffectiveFrom, source = v.Source, prices = v.Prices }),
                })
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"No model '{name}' (provider '{provider}') is known.");
        });
    }

    private static string Name(Resolution how) => how switch
    {
        Resolution.Exact => "exact",
        Resolution.Model => "model",
        _ => "dated_to_base",
    };
}
