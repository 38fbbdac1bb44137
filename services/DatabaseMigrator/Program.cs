using Tokage.DatabaseMigrator.Extensions;

var builder = Host.CreateApplicationBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

await builder.Build().RunAsync();
