using Tokage.QueryApi.Apis;
using Tokage.QueryApi.Extensions;
using Tokage.QueryApi.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseExceptionHandler();
app.MapDefaultEndpoints();
app.MapEventStatusApi();
app.MapUsageApi();
app.MapEntitlementsApi();
app.MapOtlpReportApi();
app.MapGrpcService<QueryGrpcService>();

app.Run();
