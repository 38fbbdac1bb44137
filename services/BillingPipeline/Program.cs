using Tokage.BillingPipeline.Apis;
using Tokage.BillingPipeline.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapCustomersApi();
app.MapPlansApi();
app.MapInvoicesApi();
app.MapStripeApi();
app.MapWebhooksApi();
app.MapExportsApi();
app.MapReconciliationsApi();

app.Run();
