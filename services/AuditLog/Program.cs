using Tokage.AuditLog.Apis;
using Tokage.AuditLog.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapAuditApi();

app.Run();
