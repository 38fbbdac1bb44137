using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations
{
    /// <summary>
    /// Keys scoped to one project, application or team (<c>scope_kind</c>, <c>scope_value</c>), returned by the key lookup
    /// so every service narrows or refuses what such a key asks.
    /// </summary>
    public partial class KeyScopes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "scope_kind",
                table: "api_keys",
                type: "character varying(20)",
                maxLength: 20,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "scope_value",
                table: "api_keys",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            // Key lookups return a key's scope too (the return type changes, so the function is made anew; the migrator
            // grants EXECUTE again after every run).
            migrationBuilder.Sql("""
                DROP FUNCTION IF EXISTS tokage_resolve_api_key(bytea);
                CREATE FUNCTION tokage_resolve_api_key(key_hash bytea)
                RETURNS TABLE (key_id uuid, tenant_id uuid, tenant_name text, tenant_status text, test_mode boolean, scopes text[],
                               rate_per_second integer, rate_burst integer, expires_at timestamptz, revoked boolean,
                               role text, member_id uuid, scope_kind text, scope_value text)
                LANGUAGE plpgsql VOLATILE SECURITY DEFINER
                SET search_path = public, pg_temp
                AS $$
                BEGIN
                    UPDATE api_keys AS k SET last_used_at = now()
                    WHERE k.secret_hash = key_hash AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
                    RETURN QUERY
                    SELECT k.id, t.id, t.name::text, t.status::text, t.test_mode, k.scopes,
                           t.rate_limit_per_second, t.rate_limit_burst, k.expires_at, k.revoked_at IS NOT NULL,
                           k.session_role::text, k.member_id, k.scope_kind::text, k.scope_value::text
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
            migrationBuilder.Sql("""
                DROP FUNCTION IF EXISTS tokage_resolve_api_key(bytea);
                CREATE FUNCTION tokage_resolve_api_key(key_hash bytea)
                RETURNS TABLE (key_id uuid, tenant_id uuid, tenant_name text, tenant_status text, test_mode boolean, scopes text[],
                               rate_per_second integer, rate_burst integer, expires_at timestamptz, revoked boolean,
                               role text, member_id uuid)
                LANGUAGE plpgsql VOLATILE SECURITY DEFINER
                SET search_path = public, pg_temp
                AS $$
                BEGIN
                    UPDATE api_keys AS k SET last_used_at = now()
                    WHERE k.secret_hash = key_hash AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
                    RETURN QUERY
                    SELECT k.id, t.id, t.name::text, t.status::text, t.test_mode, k.scopes,
                           t.rate_limit_per_second, t.rate_limit_burst, k.expires_at, k.revoked_at IS NOT NULL,
                           k.session_role::text, k.member_id
                    FROM api_keys AS k JOIN tenants AS t ON t.id = k.tenant_id
                    WHERE k.secret_hash = key_hash;
                END
                $$;
                REVOKE ALL ON FUNCTION tokage_resolve_api_key(bytea) FROM PUBLIC;
                """);
            migrationBuilder.DropColumn(
                name: "scope_kind",
                table: "api_keys");

            migrationBuilder.DropColumn(
                name: "scope_value",
                table: "api_keys");
        }
    }
}
