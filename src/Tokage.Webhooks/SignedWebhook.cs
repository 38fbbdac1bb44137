using System.Text;

namespace Tokage.Webhooks;

/// <summary>One webhook call's outcome: the status it answered (delivered on a 2xx), or what stopped it.</summary>
public readonly record struct WebhookCall(int? StatusCode, string? Error)
{
    public bool Delivered => StatusCode is >= 200 and < 300;
}

/// <summary>A JSON body POSTed to a tenant's URL, signed with <see cref="WebhookSignature"/>: the call every webhook sender makes.</summary>
public static class SignedWebhook
{
    /// <summary>
    /// POSTs <paramref name="body"/>, signed with <paramref name="secret"/> (unsigned when it is empty) at <paramref name="now"/>.
    /// Whatever goes wrong is the call's outcome, never an exception (cancellation aside): a delivery that throws must
    /// still run out of attempts. A refused answer's error is its reason phrase; an exception's, its message (500 characters at most).
    /// </summary>
    public static async Task<WebhookCall> PostAsync(
        HttpClient http, string url, string body, string secret, DateTimeOffset now, CancellationToken cancellationToken, params (string Name, string Value)[] headers)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            if (secret.Length > 0)
            {
                request.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.Sign(secret, now.ToUnixTimeSeconds(), body));
            }

            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await http.SendAsync(request, cancellationToken);
            return new((int)response.StatusCode, response.IsSuccessStatusCode ? null : response.ReasonPhrase);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new(null, ex.Message.Length > 500 ? ex.Message[..500] : ex.Message);
        }
    }
}
