using Tokage.PriceRegistry.Apis;
using Tokage.PriceRegistry.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapPricesApi();

app.Run();
