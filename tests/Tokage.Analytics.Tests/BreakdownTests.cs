using Tokage.Analytics.Queries;

namespace Tokage.Analytics.Tests;

/// <summary>
/// Breakdowns against an independent computation over the rows the test wrote, from every source that
/// can answer, for every dimension; and tenant isolation whatever the filters.
/// </summary>
public sealed class BreakdownTests(BreakdownTests.HistoryFixture history) : IClassFixture<BreakdownTests.HistoryFixture>
{
    private static readonly DateTime Start = new(2026, 10, 28, 0, 0, 0, DateTimeKind.Utc);

    public sealed class HistoryFixture : IAsyncLifetime
    {
        private readonly UsageStoreFixture fixture = new();

        public UsageStore Store { get; private set; } = null!;

        public List<UsageEventRow> Acme { get; } = SyntheticUsage.History("acme", 6_000, Start, TimeSpan.FromDays(10), seed: 11);

        public List<UsageEventRow> Globex { get; } = SyntheticUsage.History("globex", 3_000, Start, TimeSpan.FromDays(10), seed: 12);

        public async Task InitializeAsync()
        {
            await fixture.InitializeAsync();
            Store = await fixture.NewStoreAsync();
            await Store.Writer.WriteEventsAsync([.. Acme, .. Globex]);
        }

        public async Task DisposeAsync()
        {
            Store.Dispose();
            await fixture.DisposeAsync();
        }
    }

    public static TheoryData<UsageSource, string> SourcesAndGroupings()
    {
        var data = new TheoryData<UsageSource, string>();
        string[] groupings =
        [
            "", "model", "provider", "application", "project", "user", "team", "environment", "day",
            "model,team", "provider,model,application,project,user,team,environment", "day,model",
        ];
        foreach (var source in (UsageSource[])[UsageSource.Raw, UsageSource.Hourly, UsageSource.Daily])
        {
            foreach (var grouping in groupings)
            {
                data.Add(source, grouping);
            }
        }

        foreach (var grouping in groupings.Where(g => !g.Contains("user", StringComparison.Ordinal)))
        {
            data.Add(UsageSource.DailyCompact, grouping);
        }

        foreach (var grouping in (string[])["", "user", "day", "user,day"])
        {
            data.Add(UsageSource.DailyUser, grouping);
        }

        data.Add(UsageSource.Raw, "hour");
        data.Add(UsageSource.Hourly, "hour,model");
        return data;
    }

    [Theory]
    [MemberData(nameof(SourcesAndGroupings))]
    public async Task EveryGroupingFromEverySourceEqualsTheIndependentSum(UsageSource source, string grouping)
    {
        var groupBy = Parse(grouping);
        var from = new DateTimeOffset(Start.AddDays(2));
        var to = new DateTimeOffset(Start.AddDays(9));
        var result = await history.Store.Queries.BreakdownAsync("acme", new BreakdownQuery { From = from, To = to, GroupBy = groupBy, Source = source });

        var expected = Expected(history.Acme, from, to, groupBy, TimeZoneInfo.Utc);
        Assert.Equal(source, result.Source);
        Assert.Equal(expected.Count, result.Rows.Count);
        foreach (var row in result.Rows)
        {
            Assert.Equal(expected[KeyOf(row.Keys, groupBy)], row.Totals);
        }

        Assert.Equal(expected.Values.Aggregate(UsageTotals.Zero, (a, b) => a.Add(b)), result.Totals);
    }

    [Fact]
    public async Task AutoTakesTheCoarsestExactSourceAndAllAgree()
    {
        var dayAligned = new BreakdownQuery { From = Start.AddDays(1), To = Start.AddDays(8), GroupBy = [UsageDimension.Model] };
        var hourAligned = dayAligned with { From = Start.AddDays(1).AddHours(5) };
        var unaligned = dayAligned with { From = Start.AddDays(1).AddMinutes(7) };
        var hours = dayAligned with { GroupBy = [UsageDimension.Hour] };

        Assert.Equal(UsageSource.DailyCompact, UsageQueries.ChooseSource(dayAligned));
        Assert.Equal(UsageSource.DailyUser, UsageQueries.ChooseSource(dayAligned with { GroupBy = [UsageDimension.User] }));
        Assert.Equal(UsageSource.DailyUser, UsageQueries.ChooseSource(dayAligned with { GroupBy = [UsageDimension.Day, UsageDimension.User], Filters = new Dictionary<UsageDimension, string> { [UsageDimension.User] = "u-1" } }));
        Assert.Equal(UsageSource.Daily, UsageQueries.ChooseSource(dayAligned with { GroupBy = [UsageDimension.User], Filters = new Dictionary<UsageDimension, string> { [UsageDimension.Team] = "t-1" } }));
        Assert.Equal(UsageSource.Hourly, UsageQueries.ChooseSource(hourAligned with { GroupBy = [UsageDimension.User] }));
        Assert.Equal(UsageSource.Daily, UsageQueries.ChooseSource(dayAligned with { GroupBy = [UsageDimension.Model, UsageDimension.User] }));
        Assert.Equal(UsageSource.Daily, UsageQueries.ChooseSource(dayAligned with { Filters = new Dictionary<UsageDimension, string> { [UsageDimension.User] = "u-1" } }));
        Assert.Equal(UsageSource.Hourly, UsageQueries.ChooseSource(hourAligned));
        Assert.Equal(UsageSource.Raw, UsageQueries.ChooseSource(unaligned));
        Assert.Equal(UsageSource.Hourly, UsageQueries.ChooseSource(hours));
        Assert.Equal(UsageSource.Raw, UsageQueries.ChooseSource(hours with { TimeZone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata") }));

        foreach (var query in (BreakdownQuery[])[dayAligned, hourAligned, unaligned])
        {
            var auto = await history.Store.Queries.BreakdownAsync("acme", query);
            var raw = await history.Store.Queries.BreakdownAsync("acme", query with { Source = UsageSource.Raw });
            Assert.Equal(raw.Rows.Select(r => (r.Keys[UsageDimension.Model], r.Totals)), auto.Rows.Select(r => (r.Keys[UsageDimension.Model], r.Totals)));
        }

        await Assert.ThrowsAsync<ArgumentException>(() => history.Store.Queries.BreakdownAsync("acme", hourAligned with { Source = UsageSource.Daily }));
        await Assert.ThrowsAsync<ArgumentException>(() => history.Store.Queries.BreakdownAsync("acme", dayAligned with { GroupBy = [UsageDimension.User], Source = UsageSource.DailyCompact }));
        await Assert.ThrowsAsync<ArgumentException>(() => history.Store.Queries.BreakdownAsync("acme", dayAligned with { Source = UsageSource.DailyUser }));

        // By user, filtered to one user: the per-user rollup agrees with raw rows.
        var oneUser = dayAligned with { GroupBy = [UsageDimension.Day, UsageDimension.User], Filters = new Dictionary<UsageDimension, string> { [UsageDimension.User] = "u-1" } };
        var fromUserRollup = await history.Store.Queries.BreakdownAsync("acme", oneUser);
        Assert.Equal(UsageSource.DailyUser, fromUserRollup.Source);
        Assert.NotEmpty(fromUserRollup.Rows);
        Assert.Equal((await history.Store.Queries.BreakdownAsync("acme", oneUser with { Source = UsageSource.Raw })).Rows, fromUserRollup.Rows);
    }

    [Fact]
    public async Task DaysInTheTenantsZoneFromHourlyRollupsEqualRawRows()
    {
        var newYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        // 2026-11-01 is a DST change in New York: one 25-hour day.
        var query = new BreakdownQuery
        {
            From = Start.AddDays(1), To = Start.AddDays(9), GroupBy = [UsageDimension.Day, UsageDimension.Hour], TimeZone = newYork,
        };

        var hourly = await history.Store.Queries.BreakdownAsync("acme", query);
        var raw = await history.Store.Queries.BreakdownAsync("acme", query with { Source = UsageSource.Raw });

        Assert.Equal(UsageSource.Hourly, hourly.Source);
        var expected = Expected(history.Acme, query.From, query.To, query.GroupBy, newYork);
        Assert.Equal(expected.Count, hourly.Rows.Count);
        foreach (var row in hourly.Rows)
        {
            Assert.Equal(expected[KeyOf(row.Keys, query.GroupBy)], row.Totals);
        }

        Assert.Equal(raw.Rows, hourly.Rows, (a, b) => KeyOf(a.Keys, query.GroupBy) == KeyOf(b.Keys, query.GroupBy) && a.Totals == b.Totals);
        Assert.Contains(hourly.Rows, r => r.Keys[UsageDimension.Hour].EndsWith("-05:00", StringComparison.Ordinal));
        Assert.Contains(hourly.Rows, r => r.Keys[UsageDimension.Hour].EndsWith("-04:00", StringComparison.Ordinal));
        Assert.Equal(25, hourly.Rows.Where(r => r.Keys[UsageDimension.Day] == "2026-11-01").Select(r => r.Keys[UsageDimension.Hour]).Distinct().Count());
    }

    [Fact]
    public async Task FiltersNarrowAndTimeOrdersFirst()
    {
        var query = new BreakdownQuery
        {
            From = Start, To = Start.AddDays(10), GroupBy = [UsageDimension.Team, UsageDimension.Day],
            Filters = new Dictionary<UsageDimension, string> { [UsageDimension.Model] = "gpt-4o", [UsageDimension.Application] = "o'hara's app" },
        };

        var result = await history.Store.Queries.BreakdownAsync("acme", query);

        var matching = history.Acme.Where(r => r.Model == "gpt-4o" && r.Application == "o'hara's app").ToList();
        Assert.Equal((ulong)matching.Count, result.Totals.Events);
        Assert.Equal(matching.Where(r => r.Priced).Sum(r => r.CostUsd), result.Totals.CostUsd);
        var days = result.Rows.Select(r => r.Keys[UsageDimension.Day]).ToList();
        Assert.Equal(days.Order(StringComparer.Ordinal), days);
    }

    [Fact]
    public async Task AGroupOfOnlyUnpricedEventsHasNoCostNotZero()
    {
        var unpricedOnly = history.Acme.Where(r => !r.Priced).Select(r => r.UserId).ToHashSet();
        var result = await history.Store.Queries.BreakdownAsync("acme", new BreakdownQuery
        {
            From = Start, To = Start.AddDays(10), GroupBy = [UsageDimension.Model, UsageDimension.User], Source = UsageSource.Raw,
        });

        var groups = history.Acme.GroupBy(r => (r.Model, r.UserId)).ToDictionary(g => g.Key, g => g.All(r => !r.Priced));
        Assert.NotEmpty(unpricedOnly);
        foreach (var row in result.Rows)
        {
            var allUnpriced = groups[(row.Keys[UsageDimension.Model], row.Keys[UsageDimension.User])];
            Assert.Equal(allUnpriced, row.Totals.CostUsd is null);
            Assert.Equal(allUnpriced, row.Totals.Events == row.Totals.UnpricedEvents);
        }
    }

    [Theory]
    [InlineData(UsageSource.Raw)]
    [InlineData(UsageSource.Hourly)]
    [InlineData(UsageSource.Daily)]
    [InlineData(UsageSource.DailyCompact)]
    [InlineData(UsageSource.DailyUser)]
    public async Task ATenantSeesOnlyItsOwnRowsWhateverTheFilters(UsageSource source)
    {
        var filterOn = source == UsageSource.DailyUser ? UsageDimension.User : UsageDimension.Team;
        var dimension = source == UsageSource.DailyCompact ? UsageDimension.Project : UsageDimension.User;
        var all = new BreakdownQuery { From = Start, To = Start.AddDays(10), GroupBy = [dimension], Source = source };

        var acme = await history.Store.Queries.BreakdownAsync("acme", all);
        var globex = await history.Store.Queries.BreakdownAsync("globex", all);

        Assert.Equal((ulong)history.Acme.Count, acme.Totals.Events);
        Assert.Equal((ulong)history.Globex.Count, globex.Totals.Events);
        Assert.Equal(history.Globex.Sum(r => r.CostUsd), globex.Totals.CostUsd);

        // Values that would widen a concatenated predicate stay values.
        foreach (var hostile in (string[])["acme' OR '1'='1", "x' OR tenant_id != '", "globex\\' OR 1=1 --"])
        {
            var filtered = await history.Store.Queries.BreakdownAsync("acme", all with
            {
                Filters = new Dictionary<UsageDimension, string> { [filterOn] = hostile },
            });
            Assert.Empty(filtered.Rows);
            Assert.Empty((await history.Store.Queries.BreakdownAsync(hostile, all)).Rows);
        }

        Assert.Empty((await history.Store.Queries.BreakdownAsync("ACME", all)).Rows);
    }

    [Fact]
    public async Task AnEmptyRangeOrATimeFilterIsRefused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => history.Store.Queries.BreakdownAsync("acme", new BreakdownQuery { From = Start, To = Start }));
        await Assert.ThrowsAsync<ArgumentException>(() => history.Store.Queries.BreakdownAsync("acme", new BreakdownQuery
        {
            From = Start, To = Start.AddDays(1), Filters = new Dictionary<UsageDimension, string> { [UsageDimension.Day] = "2026-10-28" },
        }));
    }

    private static List<UsageDimension> Parse(string grouping) =>
        grouping.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(d => Enum.Parse<UsageDimension>(d, ignoreCase: true)).ToList();

    /// <summary>The breakdown computed in C# from the rows the test wrote.</summary>
    private static Dictionary<string, UsageTotals> Expected(List<UsageEventRow> rows, DateTimeOffset from, DateTimeOffset to, IReadOnlyList<UsageDimension> groupBy, TimeZoneInfo zone) =>
        rows.Where(r => r.EventTime >= from.UtcDateTime && r.EventTime < to.UtcDateTime)
            .GroupBy(r => KeyOf(groupBy.ToDictionary(d => d, d => Dimension(r, d, zone)), groupBy))
            .ToDictionary(g => g.Key, g => g.Select(Totals).Aggregate(UsageTotals.Zero, (a, b) => a.Add(b)));

    private static UsageTotals Totals(UsageEventRow r) => new(
        1, r.Priced ? 0UL : 1UL, r.InputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.CacheWrite1hTokens, r.OutputTokens, r.ReasoningTokens,
        r.Priced ? r.CostUsd : null);

    private static string Dimension(UsageEventRow r, UsageDimension dimension, TimeZoneInfo zone)
    {
        // Milliseconds are stored; the stored instant is what groups.
        var local = TimeZoneInfo.ConvertTime(new DateTimeOffset(r.EventTime), zone);
        return dimension switch
        {
            UsageDimension.Provider => r.Provider,
            UsageDimension.Model => r.Model,
            UsageDimension.Application => r.Application,
            UsageDimension.Project => r.Project,
            UsageDimension.User => r.UserId,
            UsageDimension.Team => r.Team,
            UsageDimension.Environment => r.Environment,
            UsageDimension.Day => local.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            UsageDimension.Hour => new DateTimeOffset(local.Year, local.Month, local.Day, local.Hour, 0, 0, local.Offset)
                .ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture),
            _ => throw new ArgumentOutOfRangeException(nameof(dimension)),
        };
    }

    private static string KeyOf(IReadOnlyDictionary<UsageDimension, string> keys, IReadOnlyList<UsageDimension> groupBy) =>
        string.Join("\u001f", groupBy.Select(d => keys[d]));
}
