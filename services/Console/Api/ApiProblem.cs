using System.Net;
using System.Text.Json.Nodes;

namespace Tokage.Console.Api;

/// <summary>An API's refusal, with the problem's own words (its detail, and each invalid field's message).</summary>
public sealed class ApiProblem(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;

    public static async Task<ApiProblem> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        string? message = null;
        try
        {
            if (JsonNode.Parse(text) is JsonObject problem)
            {
                var errors = problem["errors"] is JsonObject fields
                    ? string.Join(" ", fields.SelectMany(f => f.Value is JsonArray list ? list.Select(m => (string?)m) : []))
                    : null;
                message = string.Join(" ", new[] { (string?)problem["detail"], errors }.Where(m => !string.IsNullOrWhiteSpace(m)));
                message = message.Length > 0 ? message : (string?)problem["title"];
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not a problem document: the status says it.
        }

        return new ApiProblem(response.StatusCode, message ?? $"{(int)response.StatusCode} {response.ReasonPhrase}");
    }
}
