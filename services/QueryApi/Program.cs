using Tokage.QueryApi.Apis;
using Tokage.QueryApi.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapEventStatusApi();
app.MapUsageApi();

app.Run();
