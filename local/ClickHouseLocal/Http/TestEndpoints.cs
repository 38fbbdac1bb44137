using System.Runtime.CompilerServices;

namespace Tokage.ClickHouseLocal.Http;

/// <summary>Endpoints for the host's own tests; mapped only with <c>--enable-test-endpoints</c>.</summary>
internal static class TestEndpoints
{
    public static void MapTestEndpoints(this IEndpointRouteBuilder app)
    {
        // A real null dereference in managed code: the runtime's SIGSEGV handler turns it into a
        // NullReferenceException. If chDB's handler were installed instead, the process would die here.
        app.MapPost("/__test/nre", () =>
        {
            try
            {
                return Results.Text($"no exception ({Dereference(null)})", statusCode: StatusCodes.Status500InternalServerError);
            }
            catch (NullReferenceException)
            {
                return Results.Text("survived\n");
            }
        });
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Dereference(Holder? holder) => holder!.Value;

    private sealed class Holder
    {
        public int Value { get; init; }
    }
}
