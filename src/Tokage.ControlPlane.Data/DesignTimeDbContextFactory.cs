using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Tokage.ControlPlane.Data;

/// <summary>For <c>dotnet ef migrations add</c> (see the control plane's README); it never connects.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<ControlPlaneDbContext>
{
    public ControlPlaneDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<ControlPlaneDbContext>()
            .UseNpgsql("Host=localhost;Database=tokage")
            .UseSnakeCaseNamingConvention()
            .Options);
}
