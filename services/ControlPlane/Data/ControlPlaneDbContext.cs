using Microsoft.EntityFrameworkCore;

namespace Tokage.ControlPlane.Data;

/// <summary>
/// The control plane's tables (snake_case). Every tenant-owned table has a <c>tenant_id</c> and a Row-Level
/// Security policy (migration <c>RowLevelSecurity</c>): the application's role sees only the rows of the tenant
/// named by the transaction's <c>tokage.tenant_id</c> setting, and none without it.
/// </summary>
public sealed class ControlPlaneDbContext(DbContextOptions<ControlPlaneDbContext> options) : DbContext(options)
{
    /// <summary>Tables with a tenant isolation policy; the application role gets read and write on these.</summary>
    public static readonly string[] TenantOwnedTables = ["api_keys", "users", "teams", "team_members", "projects"];

    public DbSet<Tenant> Tenants => Set<Tenant>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<User> Users => Set<User>();
    public DbSet<Team> Teams => Set<Team>();
    public DbSet<TeamMember> TeamMembers => Set<TeamMember>();
    public DbSet<Project> Projects => Set<Project>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<Tenant>(tenant =>
        {
            tenant.HasIndex(t => t.Name).IsUnique();
            tenant.Property(t => t.Name).HasMaxLength(100);
            tenant.Property(t => t.Plan).HasMaxLength(50);
            tenant.Property(t => t.Status).HasConversion<string>().HasMaxLength(20);
        });

        model.Entity<ApiKey>(key =>
        {
            key.HasIndex(k => k.SecretHash).IsUnique();
            key.HasIndex(k => k.TenantId);
            key.Property(k => k.Name).HasMaxLength(100);
            key.Property(k => k.Prefix).HasMaxLength(32);
            key.HasOne<Tenant>().WithMany().HasForeignKey(k => k.TenantId);
        });

        model.Entity<User>(user =>
        {
            user.HasIndex(u => new { u.TenantId, u.ExternalId }).IsUnique();
            user.Property(u => u.ExternalId).HasMaxLength(200);
            user.HasOne<Tenant>().WithMany().HasForeignKey(u => u.TenantId);
        });

        model.Entity<Team>(team =>
        {
            team.HasIndex(t => new { t.TenantId, t.Name }).IsUnique();
            team.Property(t => t.Name).HasMaxLength(100);
            team.HasOne<Tenant>().WithMany().HasForeignKey(t => t.TenantId);
        });

        model.Entity<TeamMember>(member =>
        {
            member.HasKey(m => new { m.TeamId, m.UserId });
            member.HasOne<Team>().WithMany(t => t.Members).HasForeignKey(m => m.TeamId).OnDelete(DeleteBehavior.Cascade);
            member.HasOne<User>().WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
            member.HasOne<Tenant>().WithMany().HasForeignKey(m => m.TenantId);
        });

        model.Entity<Project>(project =>
        {
            project.HasIndex(p => new { p.TenantId, p.Name }).IsUnique();
            project.Property(p => p.Name).HasMaxLength(100);
            project.HasOne<Tenant>().WithMany().HasForeignKey(p => p.TenantId);
        });
    }
}
