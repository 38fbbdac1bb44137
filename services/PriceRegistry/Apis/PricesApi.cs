using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Tokage.ApiKeys;
using Tokage.Audit;
using Tokage.Integrations;
using Tokage.Pricing;
using Tokage.PriceRegistry.Prices;
using Tokage.PriceRegistry.Repricing;

namespace Tokage.PriceRegistry.Apis;

/// <summary>
/// <c>GET /v1/prices?provider=&amp;model=&amp;at=&amp;tenant_id=</c>: the price in effect at an instant (default now), and how
/// the model name was resolved; <c>GET /v1/prices/{provider}/{model}/history</c>: every version; <c>GET /v1/prices/overrides</c>:
/// a tenant's negotiated prices. For a tenant (its key or session, or the operator naming it) its override wins over the
/// public price; negotiated prices are confidential, so a tenant sees only its own. <c>POST /v1/prices</c> appends a
/// version (the operator: any; a tenant admin: its own overrides), <c>POST /v1/prices/import</c> a LiteLLM-format
/// document's changes (the operator). Prices are decimal strings (USD per token), LiteLLM's field names.
/// </summary>
public static class PricesApi
{
    public static void MapPricesApi(this WebApplication app)
    {
        var prices = app.MapGroup("/v1/prices").WithTags("Prices");
        prices.MapGet("/", GetPriceAsync);
        prices.MapGet("/overrides", GetOverridesAsync);
        prices.MapGet("/{provider}/{**model}", GetHistoryAsync);
        prices.MapPost("/", AddPriceAsync);
        prices.MapPost("/import", ImportAsync).AddEndpointFilter(AdminToken.RequireAsync);
        prices.MapPost("/{id:long}/corrections", CorrectAsync);
    }

    private static async Task<IResult> GetPriceAsync(string? provider, string? model, string? at, [FromQuery(Name = "tenant_id")] string? tenantId,
        HttpContext http, PriceBook book, TimeProvider time)
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

        var (tenant, refusal) = await TenantAsync(http, tenantId, ApiKeyScopes.Read);
        if (tenant is null)
        {
            return refusal!;
        }

        return book.Find(tenant, provider ?? "", model, instant) is { } answer
            ? Results.Ok(new
            {
                model = answer.Version.ModelKey,
                provider = answer.Version.Provider,
                resolution = Name(answer.How),
                @override = answer.Version.IsOverride,
                tenant_id = answer.Version.IsOverride ? answer.Version.TenantId : null,
                version_id = answer.Version.Id,
                effective_from = answer.Version.EffectiveFrom,
                source = answer.Version.Source,
                prices = answer.Version.Prices,
            })
            : Results.Problem(statusCode: StatusCodes.Status404NotFound,
                detail: $"No price for model '{model}' (provider '{provider}') at {instant:O}: its events are stored unpriced, never as $0.");
    }

    private static async Task<IResult> GetHistoryAsync(string provider, string model, [FromQuery(Name = "tenant_id")] string? tenantId, HttpContext http, PriceBook book)
    {
        if (!model.EndsWith("/history", StringComparison.Ordinal))
        {
            return Results.NotFound();
        }

        var (tenant, refusal) = await TenantAsync(http, tenantId, ApiKeyScopes.Read);
        if (tenant is null)
        {
            return refusal!;
        }

        var name = model[..^"/history".Length];
        return book.History(tenant, provider, name) is { } versions
            ? Results.Ok(new
            {
                model = versions[0].ModelKey,
                // The tenant's own versions; before the first of them, the public price applies.
                @override = versions[0].IsOverride,
                tenant_id = versions[0].IsOverride ? versions[0].TenantId : null,
                versions = versions.Select(v => new { version_id = v.Id, effective_from = v.EffectiveFrom, source = v.Source, prices = v.Prices, corrects = v.Corrects }),
            })
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"No model '{name}' (provider '{provider}') is known.");
    }

    /// <summary>
    /// <c>GET /v1/prices/overrides?tenant_id=</c>: each model a tenant has negotiated, with its versions, newest model
    /// change first — the caller's own, or for the operator the tenant it names.
    /// </summary>
    private static async Task<IResult> GetOverridesAsync([FromQuery(Name = "tenant_id")] string? tenantId, HttpContext http, PriceBook book)
    {
        var (tenant, refusal) = await TenantAsync(http, tenantId, ApiKeyScopes.Read);
        if (tenant is null)
        {
            return refusal!;
        }

        if (tenant.Length == 0)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["tenant_id"] = ["With the admin token, name the tenant: ?tenant_id=<tenant id>."] });
        }

        var models = book.Versions
            .Where(v => v.IsOverride && v.TenantId == tenant)
            .GroupBy(v => (v.Provider, v.ModelKey))
            .Select(model => model.OrderBy(v => v.EffectiveFrom).ThenBy(v => v.Id).ToList())
            .OrderByDescending(versions => versions.Max(v => v.Id))
            .Select(versions => new
            {
                model = versions[0].ModelKey,
                provider = versions[0].Provider,
                versions = versions.Select(v => new { version_id = v.Id, effective_from = v.EffectiveFrom, source = v.Source, prices = v.Prices, corrects = v.Corrects }),
            });
        return Results.Ok(new { tenant_id = tenant, models });
    }

    private static async Task<IResult> AddPriceAsync(HttpContext http, PriceBook book, PriceStore store, PriceFeed feed, TimeProvider time, CancellationToken cancellationToken)
    {
        var (caller, refusal) = await PriceCaller.ResolveAsync(http, ApiKeyScopes.Admin, anonymous: false);
        if (caller is null)
        {
            return refusal!;
        }

        var request = http.Request;
        using var body = await ReadJsonAsync(request, cancellationToken);
        if (body is null)
        {
            return NotJson();
        }

        var (price, errors) = PriceRequest.Read(body.RootElement, time.GetUtcNow());
        if (price is null)
        {
            return Results.ValidationProblem(errors, title: "Invalid price version");
        }

        // A tenant writes its own overrides only: its id is implied, another's is a 404.
        var (tenant, notFound) = caller.Tenant(price.TenantId);
        if (tenant is null)
        {
            return notFound!;
        }

        price = price with { TenantId = tenant };

        // A model the registry knows keeps its spelling and provider: a second spelling would split its history.
        var known = book.Versions
            .Where(v => (v.TenantId == price.TenantId || !v.IsOverride) && v.ModelKey.Equals(price.Model, StringComparison.OrdinalIgnoreCase))
            .OrderBy(v => v.TenantId == price.TenantId ? 0 : 1).ThenByDescending(v => v.EffectiveFrom)
            .FirstOrDefault();
        if (known is not null && ProviderNames.Family(known.Provider) != ProviderNames.Family(price.Provider))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]>
            {
                ["provider"] = [$"'{known.ModelKey}' is priced under provider '{known.Provider}', not '{price.Provider}'."],
            }, title: "Invalid price version");
        }

        var version = new PriceVersion(0, known?.ModelKey ?? price.Model, known?.Provider ?? price.Provider, price.EffectiveFrom, price.Prices, price.Source, price.TenantId);
        var (added, existing, repricing) = await store.AddAsync(version, time.GetUtcNow(), RequestActor.Of(http), cancellationToken);
        if (added is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict",
                detail: $"'{version.ModelKey}'{(version.IsOverride ? $" (tenant '{version.TenantId}')" : "")} already has a version from {version.EffectiveFrom:O} " +
                    $"(version {existing!.Id}): versions are never rewritten; add one at another instant.");
        }

        // Read-your-writes on this replica; the others catch up on the notification.
        await feed.CatchUpAsync(cancellationToken);
        var path = string.Join('/', added.ModelKey.Split('/').Select(Uri.EscapeDataString));
        return Results.Created($"/v1/prices/{Uri.EscapeDataString(added.Provider)}/{path}/history", Describe(added, repricing?.Id));
    }

    /// <summary>
    /// <c>POST /v1/prices/{id}/corrections</c> <c>{"prices": {…}, "source"?}</c>: the corrected rates of a version, in effect at its
    /// instant from now on, and a repricing of the events it priced (202, <c>Location</c> the repricing).
    /// </summary>
    private static async Task<IResult> CorrectAsync(long id, HttpContext http, PriceBook book, PriceStore store, PriceFeed feed, CancellationToken cancellationToken)
    {
        var (caller, refusal) = await PriceCaller.ResolveAsync(http, ApiKeyScopes.Admin, anonymous: false);
        if (caller is null)
        {
            return refusal!;
        }

        // A tenant corrects its own overrides; a public version (or another tenant's) is not its to correct.
        if (caller.IsTenant && !book.Versions.Any(v => v.Id == id && v.IsOverride && v.TenantId == caller.TenantId))
        {
            return book.Versions.Any(v => v.Id == id && !v.IsOverride)
                ? Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                    detail: $"Version {id} is a public price: only the operator corrects it. Add an override (POST /v1/prices) to price this model differently for your tenant.")
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"No price version {id}.");
        }

        using var body = await ReadJsonAsync(http.Request, cancellationToken);
        if (body is null)
        {
            return NotJson();
        }

        var (prices, source, errors) = PriceRequest.ReadCorrection(body.RootElement);
        if (prices is null)
        {
            return Results.ValidationProblem(errors, title: "Invalid correction");
        }

        if (await store.CorrectAsync(id, prices, source, RequestActor.Of(http), cancellationToken) is not { } corrected)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, detail: $"No price version {id}.");
        }

        await feed.CatchUpAsync(cancellationToken);
        return Results.Accepted($"/v1/repricings/{corrected.Repricing.Id}", new
        {
            correction = Describe(corrected.Correction, corrected.Repricing.Id),
            repricing = RepricingsApi.Describe(corrected.Repricing),
        });
    }

    private static async Task<IResult> ImportAsync(HttpRequest request, [FromQuery(Name = "effective_from")] string? effectiveFrom, [FromQuery(Name = "dry_run")] string? dryRun,
        PriceStore store, PriceFeed feed, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var at = time.GetUtcNow();
        if (effectiveFrom is not null && !DateTimeOffset.TryParse(effectiveFrom, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at))
        {
            errors["effective_from"] = ["'effective_from' must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z."];
        }

        var dry = false;
        if (dryRun is not null && !bool.TryParse(dryRun, out dry))
        {
            errors["dry_run"] = ["'dry_run' is true or false."];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors, title: "Invalid import");
        }

        using var body = await ReadJsonAsync(request, cancellationToken);
        if (body is null)
        {
            return NotJson();
        }

        // All or nothing: one bad price rejects the document rather than importing the rest.
        var (models, documentErrors) = PriceImport.Read(body.RootElement);
        if (documentErrors.Count > 0)
        {
            return Results.ValidationProblem(documentErrors, title: "Invalid price document");
        }

        var result = await store.ImportAsync(models, PriceRequest.Microseconds(at), dry, time.GetUtcNow(), RequestActor.Of(request.HttpContext), cancellationToken);
        if (!dry && result.Added + result.Changed > 0)
        {
            await feed.CatchUpAsync(cancellationToken);
        }

        return Results.Ok(new
        {
            effective_from = result.EffectiveFrom,
            dry_run = dry,
            added = result.Added,
            changed = result.Changed,
            unchanged = result.Unchanged,
            conflicts = result.Conflicts,
            repricing_id = result.RepricingId,
            models = result.Models.Select(m => new
            {
                model = m.Model,
                provider = m.Provider,
                change = m.Change.ToString().ToLowerInvariant(),
                version_id = m.VersionId,
                previous_version_id = m.PreviousVersionId,
                fields = m.Fields.ToDictionary(f => f.Key, f => new { before = f.Value.Before, after = f.Value.After }),
            }),
        });
    }

    /// <summary>The tenant a read means ("" for public prices), or the refusal; a tenant's key or session means its own.</summary>
    private static async Task<(string? Tenant, IResult? Refusal)> TenantAsync(HttpContext http, string? named, string scope)
    {
        var (caller, refusal) = await PriceCaller.ResolveAsync(http, scope, anonymous: true);
        if (caller is null)
        {
            return (null, refusal);
        }

        if (caller == PriceCaller.Anonymous && !string.IsNullOrWhiteSpace(named))
        {
            // Negotiated prices are confidential.
            return (null, PriceCaller.Unauthorized(http));
        }

        return caller.Tenant(named);
    }

    private static object Describe(PriceVersion version, long? repricingId = null) => new
    {
        model = version.ModelKey,
        provider = version.Provider,
        @override = version.IsOverride,
        tenant_id = version.IsOverride ? version.TenantId : null,
        version_id = version.Id,
        effective_from = version.EffectiveFrom,
        source = version.Source,
        prices = version.Prices,
        corrects = version.Corrects,
        repricing_id = repricingId,
    };

    private static async Task<JsonDocument?> ReadJsonAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static IResult NotJson() =>
        Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["The body is not JSON."] }, title: "Invalid request");

    private static string Name(Resolution how) => how switch
    {
        Resolution.Exact => "exact",
        Resolution.Model => "model",
        _ => "dated_to_base",
    };
}
