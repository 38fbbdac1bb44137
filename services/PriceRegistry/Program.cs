using Tokage.PriceRegistry.Apis;
using Tokage.PriceRegistry.Extensions;
using Tokage.PriceRegistry.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapPricesApi();
app.MapRepricingsApi();
app.MapGrpcService<PriceRegistryGrpcService>();

app.Run();
