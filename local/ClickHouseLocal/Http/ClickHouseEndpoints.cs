namespace Tokage.ClickHouseLocal.Http;

/// <summary>The routes of ClickHouse's HTTP interface that the host serves.</summary>
internal static class ClickHouseEndpoints
{
    public static void MapClickHouseEndpoints(this IEndpointRouteBuilder app)
    {
        // Health probe (and Aspire's): answers without credentials, like ClickHouse.
        app.MapMethods("/ping", [HttpMethods.Get, HttpMethods.Head], () => Results.Text("Ok.\n", "text/plain; charset=UTF-8"));

        app.MapMethods("/", [HttpMethods.Get, HttpMethods.Post, HttpMethods.Head],
            (HttpContext context, QueryHandler handler) => handler.HandleAsync(context));

        app.MapFallback(async context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.ContentType = "text/plain; charset=UTF-8";
            await context.Response.WriteAsync($"There is no handle {context.Request.Path}\n\nUse / or /ping for health checks.\n");
        });
    }
}
