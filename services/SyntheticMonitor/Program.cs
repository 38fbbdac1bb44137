using Tokage.SyntheticMonitor.Apis;
using Tokage.SyntheticMonitor.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapMonitorApi();

app.Run();
