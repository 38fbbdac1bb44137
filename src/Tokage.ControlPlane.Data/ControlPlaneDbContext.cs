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
    public static readonly string[] TenantOwnedTables = ["api_keys", "users", "teams", "team_members", "projects", "budgets", "budget_alerts", "alert_deliveries", "alert_delivery_attempts",
        // Billing (migration Billing; SQL of the billing pipeline's own, not in this model).
        "billing_settings", "customers", "customer_ids", "plans", "plan_versions", "subscriptions", "credit_grants", "invoices",
        "invoice_adjustments", "credit_drawdowns", "daily_statements", "daily_statement_days",
        // Stripe meter sync (migration StripeMeterSync; the billing pipeline's SQL).
        "stripe_connections", "stripe_meter_events", "stripe_meter_attempts",
        // Billing webhooks, exports and reconciliations (migration BillingOutputs; the billing pipeline's SQL).
        "billing_webhooks", "billing_events", "billing_webhook_deliveries", "billing_webhook_attempts", "daily_usage_lines", "billing_exports",
        "reconciliations", "reconciliation_rows",
        // Budget reservations (migration Reservations; the query API's SQL).
        "budget_reservations",
        // Single sign-on (migration SingleSignOn).
        "tenant_sso"];

    public DbSet<Tenant> Tenants => Set<Tenant>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<Member> Members => Set<Member>();
    public DbSet<TenantSso> TenantSso => Set<TenantSso>();
    public DbSet<User> Users => Set<User>();
    public DbSet<Team> Teams => Set<Team>();
    public DbSet<TeamMember> TeamMembers => Set<TeamMember>();
    public DbSet<Project> Projects => Set<Project>();
    public DbSet<Budget> Budgets => Set<Budget>();
    public DbSet<BudgetAlert> BudgetAlerts => Set<BudgetAlert>();
    public DbSet<AlertDelivery> AlertDeliveries => Set<AlertDelivery>();
    public DbSet<AlertDeliveryAttempt> AlertDeliveryAttempts => Set<AlertDeliveryAttempt>();
    public DbSet<AuditOutboxEntry> AuditOutbox => Set<AuditOutboxEntry>();

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<Tenant>(tenant =>
        {
            tenant.HasIndex(t => t.Name).IsUnique();
            tenant.Property(t => t.Name).HasMaxLength(100);
            tenant.Property(t => t.Plan).HasMaxLength(50);
            tenant.Property(t => t.Status).HasConversion<string>().HasMaxLength(20);
            tenant.Property(t => t.TimeZone).HasMaxLength(64).HasDefaultValue("UTC");
        });

        // The table is migration AuditLog's SQL (its identity order and transaction id are not this model's).
        model.Entity<AuditOutboxEntry>(entry =>
        {
            entry.ToTable("audit_outbox", table => table.ExcludeFromMigrations());
            entry.Property(e => e.Before).HasColumnType("jsonb");
            entry.Property(e => e.After).HasColumnType("jsonb");
            entry.Property(e => e.Id).ValueGeneratedNever();
        });

        model.Entity<TenantSso>(sso =>
        {
            sso.ToTable("tenant_sso");
            sso.HasKey(s => s.TenantId);
            sso.Property(s => s.Authority).HasMaxLength(500);
            sso.Property(s => s.ClientId).HasMaxLength(200);
            sso.Property(s => s.JoinRole).HasMaxLength(20);
            sso.HasOne<Tenant>().WithOne().HasForeignKey<TenantSso>(s => s.TenantId);
        });

        model.Entity<ApiKey>(key =>
        {
            key.HasIndex(k => k.SecretHash).IsUnique();
            key.HasIndex(k => k.TenantId);
            key.Property(k => k.Name).HasMaxLength(100);
            key.Property(k => k.Prefix).HasMaxLength(32);
            key.HasOne<Tenant>().WithMany().HasForeignKey(k => k.TenantId);
            key.Property(k => k.SessionRole).HasMaxLength(20);
            key.Property(k => k.ScopeKind).HasMaxLength(20);
            key.Property(k => k.ScopeValue).HasMaxLength(200);
            key.HasOne<Member>().WithMany().HasForeignKey(k => k.MemberId).OnDelete(DeleteBehavior.SetNull);
        });

        model.Entity<Member>(member =>
        {
            member.ToTable("members");
            member.HasIndex(m => m.NormalizedEmail).IsUnique();
            member.HasIndex(m => m.NormalizedUserName).IsUnique();
            member.HasIndex(m => m.TenantId);
            member.Property(m => m.UserName).HasMaxLength(256);
            member.Property(m => m.NormalizedUserName).HasMaxLength(256);
            member.Property(m => m.Email).HasMaxLength(256);
            member.Property(m => m.NormalizedEmail).HasMaxLength(256);
            member.Property(m => m.Role).HasMaxLength(20);
            member.Property(m => m.DisplayName).HasMaxLength(100);
            member.Property(m => m.ConcurrencyStamp).IsConcurrencyToken();
            member.HasOne<Tenant>().WithMany().HasForeignKey(m => m.TenantId);
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

        model.Entity<Budget>(budget =>
        {
            budget.HasIndex(b => new { b.TenantId, b.Name }).IsUnique();
            budget.Property(b => b.Name).HasMaxLength(100);
            budget.Property(b => b.ScopeKind).HasConversion<string>().HasMaxLength(20);
            budget.Property(b => b.ScopeValue).HasMaxLength(200);
            budget.Property(b => b.Period).HasConversion<string>().HasMaxLength(20);
            budget.Property(b => b.TimeZone).HasMaxLength(64);
            budget.Property(b => b.AmountUsd).HasPrecision(20, 6);
            budget.Property(b => b.SigningSecret).HasMaxLength(100);
            budget.OwnsMany(b => b.Channels, c => c.ToJson());
            budget.HasOne<Tenant>().WithMany().HasForeignKey(b => b.TenantId);
        });

        model.Entity<BudgetAlert>(alert =>
        {
            // Who sends: the first evaluator whose INSERT … ON CONFLICT DO NOTHING lands.
            alert.HasIndex(a => new { a.BudgetId, a.PeriodStart, a.Threshold }).IsUnique();
            alert.Property(a => a.SpendUsd).HasPrecision(20, 6);
            alert.Property(a => a.AmountUsd).HasPrecision(20, 6);
            alert.HasOne<Budget>().WithMany().HasForeignKey(a => a.BudgetId).OnDelete(DeleteBehavior.Cascade);
            alert.HasOne<Tenant>().WithMany().HasForeignKey(a => a.TenantId);
        });

        model.Entity<AlertDelivery>(delivery =>
        {
            delivery.HasIndex(d => new { d.AlertId, d.ChannelIndex }).IsUnique();
            delivery.HasIndex(d => new { d.Status, d.NextAttemptAt });
            delivery.Property(d => d.Kind).HasMaxLength(20);
            delivery.Property(d => d.Status).HasMaxLength(20);
            delivery.HasOne<BudgetAlert>().WithMany().HasForeignKey(d => d.AlertId).OnDelete(DeleteBehavior.Cascade);
            delivery.HasOne<Tenant>().WithMany().HasForeignKey(d => d.TenantId);
        });

        model.Entity<AlertDeliveryAttempt>(attempt =>
        {
            attempt.HasIndex(a => new { a.DeliveryId, a.Attempt });
            attempt.HasOne<AlertDelivery>().WithMany().HasForeignKey(a => a.DeliveryId).OnDelete(DeleteBehavior.Cascade);
            attempt.HasOne<Tenant>().WithMany().HasForeignKey(a => a.TenantId);
        });
    }
}
