using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations
{
    /// <summary>
    /// Console members (ASP.NET Core Identity's users, one tenant each, e-mail unique across Tokage) and their sign-in
    /// sessions, which are API keys with the member's role: every service resolves them the way it resolves keys.
    /// </summary>
    public partial class Members : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "member_id",
                table: "api_keys",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "session_role",
                table: "api_keys",
                type: "character varying(20)",
                maxLength: 20,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "members",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    tenant_id = table.Column<Guid>(type: "uuid", nullable: false),
                    role = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    display_name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    joined_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    user_name = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    normalized_user_name = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    email = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    normalized_email = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true),
                    email_confirmed = table.Column<bool>(type: "boolean", nullable: false),
                    password_hash = table.Column<string>(type: "text", nullable: true),
                    security_stamp = table.Column<string>(type: "text", nullable: true),
                    concurrency_stamp = table.Column<string>(type: "text", nullable: true),
                    phone_number = table.Column<string>(type: "text", nullable: true),
                    phone_number_confirmed = table.Column<bool>(type: "boolean", nullable: false),
                    two_factor_enabled = table.Column<bool>(type: "boolean", nullable: false),
                    lockout_end = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    lockout_enabled = table.Column<bool>(type: "boolean", nullable: false),
                    access_failed_count = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_members", x => x.id);
                    table.ForeignKey(
                        name: "fk_members_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_api_keys_member_id",
                table: "api_keys",
                column: "member_id");

            migrationBuilder.CreateIndex(
                name: "ix_members_normalized_email",
                table: "members",
                column: "normalized_email",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_members_normalized_user_name",
                table: "members",
                column: "normalized_user_name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_members_tenant_id",
                table: "members",
                column: "tenant_id");

            migrationBuilder.AddForeignKey(
                name: "fk_api_keys_members_member_id",
                table: "api_keys",
                column: "member_id",
                principalTable: "members",
                principalColumn: "id",
                onDelete: ReferentialAction.SetNull);

            // Key lookups return a session's role and member too (the return type changes, so the function is made anew;
            // the migrator grants EXECUTE again after every run).
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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP FUNCTION IF EXISTS tokage_resolve_api_key(bytea);
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
            migrationBuilder.DropForeignKey(
                name: "fk_api_keys_members_member_id",
                table: "api_keys");

            migrationBuilder.DropTable(
                name: "members");

            migrationBuilder.DropIndex(
                name: "ix_api_keys_member_id",
                table: "api_keys");

            migrationBuilder.DropColumn(
                name: "member_id",
                table: "api_keys");

            migrationBuilder.DropColumn(
                name: "session_role",
                table: "api_keys");
        }
    }
}
