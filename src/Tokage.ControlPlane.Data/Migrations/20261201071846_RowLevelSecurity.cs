using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations;

/// <summary>
/// Tenant isolation enforced by PostgreSQL: every tenant-owned table shows and accepts only the rows of the
/// tenant named by the transaction's <c>tokage.tenant_id</c> setting, and none when it is unset. The policies
/// bind every role but the tables' owner (the migrator); the services' role owns nothing and has no BYPASSRLS.
/// The one cross-tenant read, a key's lookup by its hash, is <c>tokage_resolve_api_key</c>: SECURITY DEFINER,
/// owned by the owner, callable only by what it is granted to.
/// </summary>
public partial class RowLevelSecurity : Migration
{
    // Frozen with this migration: a table added later gets its policy in its own migration.
    private static readonly string[] TenantOwnedTables = ["api_keys", "users", "teams", "team_members", "projects"];

    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE FUNCTION tokage_current_tenant() RETURNS uuid
            LANGUAGE sql STABLE
            AS $$ SELECT nullif(current_setting('tokage.tenant_id', true), '')::uuid $$;
            """);

        foreach (var table in TenantOwnedTables)
        {
            migrationBuilder.Sql($"""
                ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                CREATE POLICY tenant_isolation ON {table}
                    USING (tenant_id = tokage_current_tenant())
                    WITH CHECK (tenant_id = tokage_current_tenant());
                """);
        }

        // Touches last_used_at at most once a minute per key, so resolving stays a read almost always.
        migrationBuilder.Sql("""
            CREATE FUNCTION tokage_resolve_api_key(key_hash bytea)
            RETURNS TABLE (key_id uuid, tenant_id uuid, tenant_name text, tenant_status text, test_mode boolean, scopes text[],
                           rate_per_second integer, rate_burst integer, expires_at timestamptz, revoked boolean)
            LANGUAGE plpgsql VOLATILE SECURITY DEFINER
            SET search_path = public, pg_temp
            AS $$
            BEGIN
                UPDATE api_keys AS k SET last_used_at = now()
                WHERE k.secret_hash = key_hash AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
                RETURN QUERY
                SELECT k.id, t.id, t.name::text, t.status::text, t.test_mode, k.scopes,
                       t.rate_limit_per_second, t.rate_limit_burst, k.expires_at, k.revoked_at IS NOT NULL
                FROM api_keys AS k JOIN tenants AS t ON t.id = k.tenant_id
                WHERE k.secret_hash = key_hash;
            END
            $$;
            REVOKE ALL ON FUNCTION tokage_resolve_api_key(bytea) FROM PUBLIC;
            """);
    }

    /// <inheritdoc />
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP FUNCTION tokage_resolve_api_key(bytea);");
        foreach (var table in TenantOwnedTables)
        {
            migrationBuilder.Sql($"""
                DROP POLICY tenant_isolation ON {table};
                ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;
                """);
        }

        migrationBuilder.Sql("DROP FUNCTION tokage_current_tenant();");
    }
}
