using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;
using Tokage.Console.Api;

namespace Tokage.Console.Account;

/// <summary>
/// The sign-in forms' posts (plain HTML forms, antiforgery-checked): each asks the control plane's <c>/v1/auth</c> and, on
/// success, keeps the session it returned in the console's encrypted cookie. Failures go back to the form with the
/// control plane's own message.
/// </summary>
public static class AccountApi
{
    public static void MapAccountApi(this WebApplication app)
    {
        var account = app.MapGroup("/account");
        account.MapPost("/sign-in", async ([FromForm] string email, [FromForm] string password, [FromForm] string? returnUrl, HttpContext http, IHttpClientFactory clients) =>
            await StartAsync(http, clients, "/v1/auth/sign-in", new { email, password }, "/sign-in", LocalOrHome(returnUrl)));

        account.MapPost("/accept-invitation", async ([FromForm] string member, [FromForm] string token, [FromForm] string password, [FromForm] string? displayName, HttpContext http, IHttpClientFactory clients) =>
            await StartAsync(http, clients, "/v1/auth/invitations/accept", new { member_id = member, token, password, display_name = displayName },
                $"/accept-invitation?member={Uri.EscapeDataString(member)}&token={Uri.EscapeDataString(token)}", "/"));

        account.MapPost("/forgot-password", async ([FromForm] string email, IHttpClientFactory clients, CancellationToken cancellationToken) =>
        {
            using var response = await ControlPlane(clients).PostAsJsonAsync("/v1/auth/password-reset", new { email }, cancellationToken);
            return response.IsSuccessStatusCode
                ? Results.LocalRedirect("/forgot-password?sent=1")
                : Results.LocalRedirect($"/forgot-password?error={Uri.EscapeDataString((await ApiProblem.ReadAsync(response, cancellationToken)).Message)}");
        });

        account.MapPost("/reset-password", async ([FromForm] string member, [FromForm] string token, [FromForm] string password, IHttpClientFactory clients, CancellationToken cancellationToken) =>
        {
            using var response = await ControlPlane(clients).PostAsJsonAsync("/v1/auth/password-reset/confirm", new { member_id = member, token, password }, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return Results.LocalRedirect("/sign-in?reset=1");
            }

            var problem = await ApiProblem.ReadAsync(response, cancellationToken);
            return Results.LocalRedirect($"/reset-password?member={Uri.EscapeDataString(member)}&token={Uri.EscapeDataString(token)}&error={Uri.EscapeDataString(problem.Message)}");
        });

        account.MapGet("/sso", SingleSignOn.StartAsync);

        account.MapPost("/sign-out", async (HttpContext http, IHttpClientFactory clients) =>
        {
            if (ConsoleSession.From(http.User) is { } session)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/sign-out");
                request.Headers.Authorization = new("Bearer", session.Token);
                using var _ = await ControlPlane(clients).SendAsync(request, http.RequestAborted);
            }

            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect("/sign-in");
        });
    }

    private static async Task<IResult> StartAsync(HttpContext http, IHttpClientFactory clients, string path, object body, string formUrl, string next)
    {
        using var response = await ControlPlane(clients).PostAsJsonAsync(path, body, http.RequestAborted);
        if (!response.IsSuccessStatusCode)
        {
            var problem = await ApiProblem.ReadAsync(response, http.RequestAborted);
            var separator = formUrl.Contains('?', StringComparison.Ordinal) ? '&' : '?';
            return Results.LocalRedirect($"{formUrl}{separator}error={Uri.EscapeDataString(problem.Message)}");
        }

        var signedIn = ConsoleSession.FromApi(JsonNode.Parse(await response.Content.ReadAsStringAsync(http.RequestAborted))!);
        await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, signedIn.ToPrincipal(CookieAuthenticationDefaults.AuthenticationScheme),
            new AuthenticationProperties { ExpiresUtc = signedIn.ExpiresAt, IsPersistent = true });
        return Results.LocalRedirect(next);
    }

    internal static HttpClient ControlPlane(IHttpClientFactory clients) => clients.CreateClient(nameof(TokageService.ControlPlane));

    internal static string LocalOrHome(string? url) => url is { Length: > 0 } && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) ? url : "/";
}
