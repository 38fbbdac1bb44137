namespace Tokage.Webhooks;

/// <summary>When an outbox item that failed is tried again: the base delay doubled per attempt, capped.</summary>
public static class RetryBackoff
{
    /// <summary>The wait after failed attempt number <paramref name="attempt"/> (1 for the first): base × 2^(attempt−1), at most <paramref name="max"/>.</summary>
    public static TimeSpan Delay(int attempt, TimeSpan baseDelay, TimeSpan max) =>
        TimeSpan.FromTicks(Math.Min(max.Ticks, baseDelay.Ticks * (1L << Math.Clamp(attempt - 1, 0, 30))));
}
