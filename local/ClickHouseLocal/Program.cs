using Tokage.ClickHouseLocal;

var arguments = ClickHouseLocalHost.NormalizeArguments(args);

// appsettings.json sits next to the binary; relative paths (the data path) stay relative to the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = arguments, ContentRootPath = AppContext.BaseDirectory });
builder.AddClickHouseLocal(arguments);

var app = builder.Build();
app.MapClickHouseHttp();

// Ends the process itself (_exit): chDB's static destructors can crash a normal exit.
return await app.RunClickHouseLocalAsync();
