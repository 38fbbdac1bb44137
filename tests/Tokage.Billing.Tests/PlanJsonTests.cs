using System.Text.Json;
using Tokage.Billing.Plans;

namespace Tokage.Billing.Tests;

public sealed class PlanJsonTests
{
    private static (PlanDefinition? Plan, Dictionary<string, string[]> Errors) Read(string json)
    {
        var errors = new Dictionary<string, string[]>();
        using var document = JsonDocument.Parse(json);
        return (PlanJson.Read(document.RootElement, errors), errors);
    }

    [Fact]
    public void APlanRoundTripsExactlyThroughItsStoredForm()
    {
        var (plan, errors) = Read("""
            {"base_fee_usd": "49.99", "minimum_usd": 100, "charges": [
              {"key": "input", "meter": "input_tokens", "price_model": "per_unit", "unit_price_usd": 0.0000025, "per_units": "1", "filter": {"model": "gpt-4o"}},
              {"key": "calls", "meter": "events", "price_model": "graduated", "included_units": 1000,
               "tiers": [{"up_to": 10000, "unit_price_usd": "0.001"}, {"up_to": null, "unit_price_usd": "0.0005", "flat_fee_usd": "2"}]},
              {"key": "resale", "meter": "cost_usd", "price_model": "markup", "markup_percent": "12.5"},
              {"key": "blocks", "meter": "output_tokens", "price_model": "package", "package_size": 1000000, "unit_price_usd": "7"}]}
            """);
        Assert.Empty(errors);
        Assert.Equal(0.0000025m, plan!.Charges[0].UnitPriceUsd);
        Assert.Equal(49.99m, plan.BaseFeeUsd);

        var again = Read(PlanJson.Write(plan).ToJsonString());
        Assert.Empty(again.Errors);
        Assert.Equal(PlanJson.Write(plan).ToJsonString(), PlanJson.Write(again.Plan!).ToJsonString());
        Assert.Equal(plan.Charges[1].Tiers, again.Plan!.Charges[1].Tiers);
    }

    [Theory]
    [InlineData("""{"charges": [{"key": "a", "meter": "tokens", "price_model": "per_unit", "unit_price_usd": 1}]}""", "charges[0].meter", "Unknown meter 'tokens'")]
    [InlineData("""{"charges": [{"key": "a", "meter": "events", "price_model": "per_unit", "unit_price_usd": -1}]}""", "charges[0].unit_price_usd", "cannot be negative")]
    [InlineData("""{"charges": [{"key": "a", "meter": "events", "price_model": "graduated", "tiers": [{"up_to": 100, "unit_price_usd": 1}, {"up_to": 50, "unit_price_usd": 1}, {"up_to": null, "unit_price_usd": 1}]}]}""", "charges[0].tiers[1].up_to", "ascending")]
    [InlineData("""{"charges": [{"key": "a", "meter": "events", "price_model": "volume", "tiers": [{"up_to": 100, "unit_price_usd": 1}]}]}""", "charges[0].tiers[0].up_to", "unbounded")]
    [InlineData("""{"charges": [{"key": "a", "meter": "events", "price_model": "markup", "markup_percent": 10}]}""", "charges[0].meter", "must be 'cost_usd'")]
    [InlineData("""{"charges": [{"key": "a", "meter": "events", "price_model": "package", "unit_price_usd": 1}]}""", "charges[0].package_size", "positive")]
    [InlineData("""{"charges": [{"key": "a", "meter": "events", "price_model": "per_unit", "unit_price_usd": 1.5e400}]}""", "charges[0].unit_price_usd", "decimal number")]
    [InlineData("""{"charges": [{"key": "a", "meter": "events", "price_model": "per_unit", "unit_price_usd": 1, "filter": {"user": "x"}}]}""", "charges[0].filter.user", "model, provider or application")]
    [InlineData("""{"base_fee_usd": "ten"}""", "base_fee_usd", "decimal")]
    [InlineData("""{}""", "charges", "at least one charge")]
    public void EveryBadFieldIsNamed(string json, string field, string message)
    {
        var (plan, errors) = Read(json);
        Assert.Null(plan);
        Assert.True(errors.ContainsKey(field), $"expected an error on {field}, got: {string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value[0]}"))}");
        Assert.Contains(message, errors[field][0]);
    }
}
