using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations;

/// <summary>
/// Budget reservations: room an app holds in its hard-limit budgets before a call, so that concurrent callers cannot
/// all hear "yes" before any usage lands. Granted under a row lock on the budgets they hold room in; live until
/// released, expired, or settled by a stored event that names them. The query API reads and writes them (SQL of its
/// own, not in the EF model), tenant-owned under the same RLS policy as every other table.
/// </summary>
[DbContext(typeof(ControlPlaneDbContext))]
[Migration("20261203170000_Reservations")]
public partial class Reservations : Migration
{
    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE budget_reservations (
                tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                reservation_id     varchar(128) NOT NULL,
                scope_kind         varchar(20) NOT NULL,
                scope_value        varchar(200) NOT NULL,
                estimated_cost_usd numeric(38, 18) NOT NULL CHECK (estimated_cost_usd >= 0),
                budget_ids         uuid[] NOT NULL,
                granted            boolean NOT NULL,
                created_at         timestamptz NOT NULL,
                expires_at         timestamptz NOT NULL,
                released_at        timestamptz,
                PRIMARY KEY (tenant_id, reservation_id)
            );
            CREATE INDEX ix_budget_reservations_live ON budget_reservations (tenant_id, expires_at) WHERE granted AND released_at IS NULL;
            ALTER TABLE budget_reservations ENABLE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON budget_reservations
                USING (tenant_id = tokage_current_tenant())
                WITH CHECK (tenant_id = tokage_current_tenant());
            """);
    }

    /// <inheritdoc />
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TABLE budget_reservations;");
    }
}
