using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tokage.Billing.Plans;

/// <summary>
/// A plan version in JSON, as the API takes it and as it is stored: money and quantities as decimal strings (JSON
/// numbers are read as their text, never through a double). <see cref="Read"/> names every field that is wrong.
/// </summary>
public static class PlanJson
{
    public static readonly IReadOnlyDictionary<string, Meter> Meters = new Dictionary<string, Meter>
    {
        ["cost_usd"] = Meter.CostUsd, ["input_tokens"] = Meter.InputTokens, ["output_tokens"] = Meter.OutputTokens,
        ["cache_read_tokens"] = Meter.CacheReadTokens, ["cache_write_tokens"] = Meter.CacheWriteTokens,
        ["reasoning_tokens"] = Meter.ReasoningTokens, ["events"] = Meter.Events,
    };

    public static readonly IReadOnlyDictionary<string, PriceModel> PriceModels = new Dictionary<string, PriceModel>
    {
        ["per_unit"] = PriceModel.PerUnit, ["graduated"] = PriceModel.Graduated, ["volume"] = PriceModel.Volume,
        ["package"] = PriceModel.Package, ["markup"] = PriceModel.Markup,
    };

    public static string Name(Meter meter) => Meters.First(m => m.Value == meter).Key;

    public static string Name(PriceModel model) => PriceModels.First(m => m.Value == model).Key;

    /// <summary>The plan version in <paramref name="plan"/> (base_fee_usd, minimum_usd, charges), or the problems by field.</summary>
    public static PlanDefinition? Read(JsonElement plan, Dictionary<string, string[]> errors)
    {
        if (plan.ValueKind != JsonValueKind.Object)
        {
            errors[""] = ["A plan must be a JSON object."];
            return null;
        }

        var baseFee = OptionalMoney(plan, "base_fee_usd", "base_fee_usd", errors);
        var minimum = OptionalMoney(plan, "minimum_usd", "minimum_usd", errors);
        var charges = new List<Charge>();
        if (!plan.TryGetProperty("charges", out var list) || list.ValueKind == JsonValueKind.Null)
        {
            // A plan of a base fee alone is a plan.
        }
        else if (list.ValueKind != JsonValueKind.Array)
        {
            errors["charges"] = ["'charges' must be an array."];
        }
        else
        {
            var i = 0;
            foreach (var element in list.EnumerateArray())
            {
                if (ReadCharge(element, $"charges[{i}]", errors) is { } charge)
                {
                    charges.Add(charge);
                }

                i++;
            }

            foreach (var repeated in charges.GroupBy(c => c.Key).Where(g => g.Count() > 1))
            {
                errors["charges"] = [$"Charge key '{repeated.Key}' is used twice; each charge needs its own key."];
            }
        }

        if (charges.Count == 0 && baseFee is null && !errors.ContainsKey("charges"))
        {
            errors["charges"] = ["A plan needs at least one charge or a base_fee_usd."];
        }

        return errors.Count == 0 ? new PlanDefinition { BaseFeeUsd = baseFee, MinimumUsd = minimum, Charges = charges } : null;
    }

    private static Charge? ReadCharge(JsonElement element, string at, Dictionary<string, string[]> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors[at] = ["A charge must be a JSON object."];
            return null;
        }

        var before = errors.Count;
        var key = String(element, "key");
        if (string.IsNullOrWhiteSpace(key) || key.Length > 100)
        {
            errors[$"{at}.key"] = ["'key' is required (at most 100 characters), e.g. \"input-tokens\"."];
        }

        var meterName = String(element, "meter");
        if (meterName is null || !Meters.TryGetValue(meterName, out var meter))
        {
            errors[$"{at}.meter"] = [$"Unknown meter '{meterName}': one of {string.Join(", ", Meters.Keys)}."];
            meter = Meter.Events;
        }

        var modelName = String(element, "price_model");
        if (modelName is null || !PriceModels.TryGetValue(modelName, out var priceModel))
        {
            errors[$"{at}.price_model"] = [$"Unknown price model '{modelName}': one of {string.Join(", ", PriceModels.Keys)}."];
            priceModel = PriceModel.PerUnit;
        }

        var unitPrice = OptionalMoney(element, "unit_price_usd", $"{at}.unit_price_usd", errors);
        var perUnits = OptionalNumber(element, "per_units", $"{at}.per_units", errors) ?? 1m;
        if (perUnits <= 0)
        {
            errors[$"{at}.per_units"] = ["'per_units' must be positive."];
        }

        var included = OptionalNumber(element, "included_units", $"{at}.included_units", errors) ?? 0m;
        if (included < 0)
        {
            errors[$"{at}.included_units"] = ["'included_units' cannot be negative."];
        }

        var packageSize = OptionalNumber(element, "package_size", $"{at}.package_size", errors);
        var markup = OptionalNumber(element, "markup_percent", $"{at}.markup_percent", errors);
        var tiers = ReadTiers(element, at, errors);
        var filter = ReadFilter(element, at, errors);
        var stripeMeter = String(element, "stripe_meter_event_name");
        if (stripeMeter is not null && (stripeMeter.Length is 0 or > 100 || stripeMeter.Any(char.IsWhiteSpace)))
        {
            errors[$"{at}.stripe_meter_event_name"] = ["'stripe_meter_event_name' is the event_name of a Stripe meter: 1 to 100 characters, no spaces."];
        }

        switch (priceModel)
        {
            case PriceModel.PerUnit or PriceModel.Package when unitPrice is null:
                errors.TryAdd($"{at}.unit_price_usd", [$"A {modelName} charge needs 'unit_price_usd'."]);
                break;
            case PriceModel.Graduated or PriceModel.Volume when tiers is null or { Count: 0 }:
                errors.TryAdd($"{at}.tiers", [$"A {modelName} charge needs 'tiers'."]);
                break;
            case PriceModel.Package when packageSize is not > 0:
                errors.TryAdd($"{at}.package_size", ["A package charge needs a positive 'package_size'."]);
                break;
            case PriceModel.Markup when markup is null:
                errors.TryAdd($"{at}.markup_percent", ["A markup charge needs 'markup_percent'."]);
                break;
            case PriceModel.Markup when meterName != "cost_usd":
                errors[$"{at}.meter"] = ["A markup charge marks up cost: its meter must be 'cost_usd'."];
                break;
        }

        if (markup is < -100)
        {
            errors[$"{at}.markup_percent"] = ["'markup_percent' cannot be below -100 (a negative amount)."];
        }

        return errors.Count == before
            ? new Charge
            {
                Key = key!, Meter = meter, PriceModel = priceModel, UnitPriceUsd = unitPrice, PerUnits = perUnits, IncludedUnits = included,
                PackageSize = packageSize, MarkupPercent = markup, Tiers = tiers ?? [], Filter = filter, StripeMeterEventName = stripeMeter,
            }
            : null;
    }

    private static List<PriceTier>? ReadTiers(JsonElement charge, string at, Dictionary<string, string[]> errors)
    {
        if (!charge.TryGetProperty("tiers", out var list) || list.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            errors[$"{at}.tiers"] = ["'tiers' must be an array of {\"up_to\", \"unit_price_usd\", \"flat_fee_usd\"}."];
            return null;
        }

        var tiers = new List<PriceTier>();
        var i = 0;
        foreach (var element in list.EnumerateArray())
        {
            var here = $"{at}.tiers[{i}]";
            if (element.ValueKind != JsonValueKind.Object)
            {
                errors[here] = ["A tier must be a JSON object."];
                return null;
            }

            var upTo = OptionalNumber(element, "up_to", $"{here}.up_to", errors);
            var price = OptionalMoney(element, "unit_price_usd", $"{here}.unit_price_usd", errors);
            var flat = OptionalMoney(element, "flat_fee_usd", $"{here}.flat_fee_usd", errors) ?? 0m;
            if (price is null && !errors.ContainsKey($"{here}.unit_price_usd"))
            {
                errors[$"{here}.unit_price_usd"] = ["Each tier needs 'unit_price_usd' (0 for a free tier)."];
            }

            if (upTo is { } bound && (bound <= 0 || (tiers.Count > 0 && tiers[^1].UpTo is { } previous && bound <= previous)))
            {
                errors[$"{here}.up_to"] = ["Tiers must be in ascending order of 'up_to', each above the one before (and above 0)."];
            }

            if (i > 0 && tiers.Count > 0 && tiers[^1].UpTo is null)
            {
                errors[$"{at}.tiers[{i - 1}].up_to"] = ["Only the last tier may be unbounded (\"up_to\": null)."];
            }

            tiers.Add(new PriceTier(upTo, price ?? 0m, flat));
            i++;
        }

        if (tiers.Count > 0 && tiers[^1].UpTo is not null)
        {
            errors[$"{at}.tiers[{tiers.Count - 1}].up_to"] = ["The last tier must be unbounded (\"up_to\": null) so every quantity has a price."];
        }

        return tiers;
    }

    private static ChargeFilter ReadFilter(JsonElement charge, string at, Dictionary<string, string[]> errors)
    {
        if (!charge.TryGetProperty("filter", out var filter) || filter.ValueKind == JsonValueKind.Null)
        {
            return ChargeFilter.None;
        }

        if (filter.ValueKind != JsonValueKind.Object)
        {
            errors[$"{at}.filter"] = ["'filter' must be an object with any of model, provider, application."];
            return ChargeFilter.None;
        }

        foreach (var property in filter.EnumerateObject())
        {
            if (property.Name is not ("model" or "provider" or "application"))
            {
                errors[$"{at}.filter.{property.Name}"] = ["A charge filters on model, provider or application only."];
            }
            else if (property.Value.ValueKind != JsonValueKind.String || property.Value.GetString()!.Length is 0 or > 256)
            {
                errors[$"{at}.filter.{property.Name}"] = ["A filter value is a non-empty string of at most 256 characters."];
            }
        }

        return new ChargeFilter(String(filter, "model"), String(filter, "provider"), String(filter, "application"));
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static decimal? OptionalMoney(JsonElement element, string name, string field, Dictionary<string, string[]> errors)
    {
        var value = OptionalNumber(element, name, field, errors);
        if (value < 0)
        {
            errors[field] = [$"'{name}' cannot be negative."];
        }

        return value;
    }

    /// <summary>A decimal from a JSON number or a decimal string, read from its text (never through a double).</summary>
    public static decimal? OptionalNumber(JsonElement element, string name, string field, Dictionary<string, string[]> errors)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var number))
        {
            return number;
        }

        if (value.ValueKind == JsonValueKind.String
            && decimal.TryParse(value.GetString(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var parsed))
        {
            return parsed;
        }

        errors[field] = [$"'{name}' must be a decimal number or a decimal string, e.g. \"2.50\"."];
        return null;
    }

    public static JsonObject Write(PlanDefinition plan)
    {
        var charges = new JsonArray();
        foreach (var charge in plan.Charges)
        {
            var node = new JsonObject
            {
                ["key"] = charge.Key, ["meter"] = Name(charge.Meter), ["price_model"] = Name(charge.PriceModel),
            };
            if (charge.Filter != ChargeFilter.None)
            {
                var filter = new JsonObject();
                if (charge.Filter.Model is { } model) { filter["model"] = model; }
                if (charge.Filter.Provider is { } provider) { filter["provider"] = provider; }
                if (charge.Filter.Application is { } application) { filter["application"] = application; }
                node["filter"] = filter;
            }

            if (charge.UnitPriceUsd is { } unit) { node["unit_price_usd"] = Money.Exact(unit); }
            node["per_units"] = Money.Exact(charge.PerUnits);
            if (charge.Tiers.Count > 0)
            {
                node["tiers"] = new JsonArray([.. charge.Tiers.Select(t => (JsonNode)new JsonObject
                {
                    ["up_to"] = t.UpTo is { } upTo ? Money.Exact(upTo) : null,
                    ["unit_price_usd"] = Money.Exact(t.UnitPriceUsd),
                    ["flat_fee_usd"] = Money.Exact(t.FlatFeeUsd),
                })]);
            }

            if (charge.PackageSize is { } size) { node["package_size"] = Money.Exact(size); }
            if (charge.MarkupPercent is { } markup) { node["markup_percent"] = Money.Exact(markup); }
            node["included_units"] = Money.Exact(charge.IncludedUnits);
            if (charge.StripeMeterEventName is { } stripeMeter) { node["stripe_meter_event_name"] = stripeMeter; }
            charges.Add(node);
        }

        return new JsonObject
        {
            ["base_fee_usd"] = plan.BaseFeeUsd is { } fee ? Money.Exact(fee) : null,
            ["minimum_usd"] = plan.MinimumUsd is { } minimum ? Money.Exact(minimum) : null,
            ["charges"] = charges,
        };
    }
}
