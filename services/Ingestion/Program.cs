using Tokage.Ingestion.Apis;
using Tokage.Ingestion.Extensions;
using Tokage.Ingestion.Grpc;
using Tokage.Ingestion.Otlp;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapEventsApi();
app.MapGrpcService<IngestGrpcService>();
app.MapOtlpHttpApi();
app.MapGrpcService<OtlpTraceGrpcService>();

app.Run();
