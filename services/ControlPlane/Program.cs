using Tokage.ControlPlane.Extensions;
using Tokage.ControlPlane.Grpc;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapControlPlaneApi();
app.MapGrpcService<ControlPlaneGrpcService>();

app.Run();
