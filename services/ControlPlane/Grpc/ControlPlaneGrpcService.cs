using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Tokage.ControlPlane.Apis;
using Tokage.ControlPlane.Data;
using Tokage.Contracts.V1;
using Tokage.Integrations;

namespace Tokage.ControlPlane.Grpc;

/// <summary><c>tokage.v1.ControlPlaneService</c>: tenants for services, behind the same admin token as the REST API.</summary>
internal sealed class ControlPlaneGrpcService(ControlPlaneDbContext db, AdminToken adminToken) : ControlPlaneService.ControlPlaneServiceBase
{
    public override async Task<Contracts.V1.Tenant> GetTenant(GetTenantRequest request, ServerCallContext context)
    {
        Authorize(context);
        return await db.FindTenantAsync(request.Tenant, context.CancellationToken) is { } tenant
            ? ToMessage(tenant)
            : throw new RpcException(new Status(StatusCode.NotFound, $"Tenant '{request.Tenant}' does not exist."));
    }

    public override async Task<ListTenantsResponse> ListTenants(ListTenantsRequest request, ServerCallContext context)
    {
        Authorize(context);
        var tenants = await db.Tenants.OrderBy(t => t.Name).ToListAsync(context.CancellationToken);
        return new ListTenantsResponse { Tenants = { tenants.Select(ToMessage) } };
    }

    private void Authorize(ServerCallContext context)
    {
        if (!adminToken.Accepts(context.RequestHeaders.GetValue("authorization")))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "The control plane needs 'authorization: Bearer <admin token>'."));
        }
    }

    private static Contracts.V1.Tenant ToMessage(Data.Tenant t) => new()
    {
        Id = t.Id.ToString(),
        Name = t.Name,
        Plan = t.Plan,
        Status = t.Status.ToString().ToLowerInvariant(),
        TestMode = t.TestMode,
        RateLimit = new RateLimit { EventsPerSecond = (uint)t.RateLimitPerSecond, Burst = (uint)t.RateLimitBurst },
        CreatedAtUnixMs = t.CreatedAt.ToUnixTimeMilliseconds(),
    };
}
