using Microsoft.Extensions.Options;
using Tokage.Analytics.Privacy;
using Tokage.EventProcessor.Processing;

namespace Tokage.EventProcessor.Tests;

/// <summary>The classification rules, one class per event, the first that holds; personal values masked unless allowed.</summary>
public sealed class ClassifierTests
{
    private const string Tenant = "tenant-a";

    private static readonly EventClassifier Classifier = new(Options.Create(new DataPolicyOptions
    {
        PiiHashKey = "test-key",
        Default = new TenantDataPolicy { ConfidentialKeys = ["contract"] },
        Tenants = { ["raw-ok"] = new TenantDataPolicy { AllowRawPii = true } },
    }));

    [Theory]
    [InlineData("u-42", "", "", "0.01", "BILLING")]
    [InlineData("u-42", "", "", "0", "PUB")]
    [InlineData("ada@example.com", "", "", "0.01", "PII")]
    [InlineData("u-42", "phone", "+44 20 7946 0958", "0.01", "PII")]
    [InlineData("u-42", "callback", "(415) 555-0134", "0", "PII")]
    [InlineData("u-42", "contract", "ACME-2026", "0.01", "CONF")]
    [InlineData("ada@example.com", "tokage.synthetic", "true", "0.01", "OPS")]
    [InlineData("12345678", "order", "2026-11-20", "0.01", "BILLING")]
    public void TheFirstRuleThatHoldsGivesTheClass(string userId, string key, string value, string cost, string expected)
    {
        var metadata = key.Length == 0 ? new Dictionary<string, string>() : new Dictionary<string, string> { [key] = value };

        var classified = Classifier.Classify(Tenant, userId, metadata, decimal.Parse(cost, System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(expected, classified.Classification);
    }

    [Fact]
    public void PersonalValuesAreStoredAsStablePseudonymsUnlessTheTenantAllowsRawValues()
    {
        var metadata = new Dictionary<string, string> { ["contact"] = "ada@example.com", ["ticket"] = "T-1001" };

        var masked = Classifier.Classify(Tenant, "ada@example.com", metadata, 0.01m);
        var again = Classifier.Classify(Tenant, "ada@example.com", metadata, 0.01m);
        var otherTenant = Classifier.Classify("tenant-b", "ada@example.com", metadata, 0.01m);
        var raw = Classifier.Classify("raw-ok", "ada@example.com", metadata, 0.01m);

        Assert.StartsWith("pii:", masked.UserId);
        Assert.DoesNotContain("ada", masked.UserId);
        Assert.Equal(masked.UserId, masked.Metadata["contact"]);
        Assert.Equal("T-1001", masked.Metadata["ticket"]);
        Assert.Equal(masked.UserId, again.UserId);
        Assert.NotEqual(masked.UserId, otherTenant.UserId);
        Assert.Equal(("PII", "ada@example.com", "ada@example.com"), (raw.Classification, raw.UserId, raw.Metadata["contact"]));
    }

    [Fact]
    public void ALogRangeNamesExactlyItsRecords()
    {
        string[] positions = ["tokage.usage.v1@1733045000000-0", "tokage.usage.v1@1733045000000-1"];

        string[] events = ["t/req-1", "t/req-2"];

        var token = LogRange.Token(positions, events);

        Assert.Equal(token, LogRange.Token([.. positions], [.. events]));
        Assert.NotEqual(token, LogRange.Token([positions[0]], [events[0]]));
        Assert.NotEqual(token, LogRange.Token([positions[1], positions[0]], [events[1], events[0]]));
        // The same positions holding other events (a log started again): another name.
        Assert.NotEqual(token, LogRange.Token(positions, ["t/other-1", "t/other-2"]));
        Assert.Matches("^[A-Za-z0-9._-]+$", token);
    }

    [Fact]
    public void BackoffGrowsWithJitterUpToItsCeiling()
    {
        var initial = TimeSpan.FromMilliseconds(100);
        var max = TimeSpan.FromSeconds(5);

        var delays = Enumerable.Range(0, 12).Select(attempt => Backoff.Delay(attempt, initial, max)).ToList();

        Assert.InRange(delays[0], TimeSpan.FromMilliseconds(50), initial);
        Assert.InRange(delays[3], TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800));
        Assert.All(delays, d => Assert.True(d <= max));
        Assert.InRange(delays[^1], max / 2, max);
    }
}
