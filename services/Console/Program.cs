using Tokage.Console.Account;
using Tokage.Console.Api;
using Tokage.Console.Components;
using Tokage.Console.Extensions;

var builder = WebApplication.CreateBuilder(args);

// Run from the build output (the AppHost runs projects so, in every environment), the framework's and MudBlazor's files
// are found through the static web assets manifest; a published console has them in its wwwroot and no manifest.
builder.WebHost.UseStaticWebAssets();
builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.UseSingleSignOnCallbacks();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.MapAccountApi();
app.MapDownloadsApi();
app.MapStaticAssets();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

app.Run();
