using Tokage.Auth.Extensions;
using Tokage.Auth.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGrpcService<AuthGrpcService>();

app.Run();
