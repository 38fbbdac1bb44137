namespace Tokage.Console.Api;

/// <summary>
/// Files the member downloads (a breakdown as CSV, an invoice as PDF): the console fetches them from the API with the
/// member's session and passes the bytes on unchanged, so the file is exactly the API's.
/// </summary>
public static class DownloadsApi
{
    public static void MapDownloadsApi(this WebApplication app)
    {
        var downloads = app.MapGroup("/download").RequireAuthorization();
        downloads.MapGet("/breakdown.csv", (HttpContext http, TokageApi api) =>
            PassOnAsync(http, api, TokageService.QueryApi, $"/v1/usage/breakdown{http.Request.QueryString.Add("format", "csv")}"));
        downloads.MapGet("/invoices/{id:guid}.pdf", (Guid id, HttpContext http, TokageApi api) =>
            PassOnAsync(http, api, TokageService.Billing, $"/v1/invoices/{id}.pdf"));
    }

    private static async Task<IResult> PassOnAsync(HttpContext http, TokageApi api, TokageService service, string path)
    {
        var session = ConsoleSession.From(http.User)!;
        try
        {
            var response = await api.GetRawAsync(service, path, session.Token, http.RequestAborted);
            http.Response.RegisterForDispose(response);
            var type = response.Content.Headers.ContentType?.ToString() ?? "application/octet-stream";
            var name = response.Content.Headers.ContentDisposition?.FileNameStar ?? response.Content.Headers.ContentDisposition?.FileName ?? Path.GetFileName(path.Split('?')[0]);
            return Results.Stream(await response.Content.ReadAsStreamAsync(http.RequestAborted), type, name.Trim('"'));
        }
        catch (ApiProblem problem)
        {
            return Results.Problem(statusCode: (int)problem.Status, detail: problem.Message);
        }
    }
}
