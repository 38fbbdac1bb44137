using Npgsql;

namespace Tokage.BillingPipeline.Apis;

/// <summary>The billing API's answers for bad input: 400 naming the field, 404 for what the tenant does not have, 409 for a taken key.</summary>
internal static class BillingErrors
{
    public static IResult Invalid(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "Invalid request");

    public static IResult Invalid(Dictionary<string, string[]> errors) => Results.ValidationProblem(errors, title: "Invalid request");

    public static IResult NotFound(string what) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not Found", detail: $"{what} does not exist.");

    public static IResult Conflict(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail);

    public static bool IsUniqueViolation(Exception ex) => ex is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>An IANA zone that exists here, or null.</summary>
    public static TimeZoneInfo? Zone(string id)
    {
        try
        {
            return id.Length is > 0 and <= 64 ? TimeZoneInfo.FindSystemTimeZoneById(id) : null;
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return null;
        }
    }
}
