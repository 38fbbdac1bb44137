using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations
{
    /// <summary>
    /// A tenant's time zone (times and days in the console), and its OpenID Connect sign-in (<c>tenant_sso</c>, one row
    /// per tenant, under RLS like every tenant-owned table).
    /// </summary>
    public partial class SingleSignOn : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "time_zone",
                table: "tenants",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                defaultValue: "UTC");

            migrationBuilder.CreateTable(
                name: "tenant_sso",
                columns: table => new
                {
                    tenant_id = table.Column<Guid>(type: "uuid", nullable: false),
                    authority = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false),
                    client_id = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    client_secret = table.Column<string>(type: "text", nullable: true),
                    join_role = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: true),
                    join_domains = table.Column<string[]>(type: "text[]", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tenant_sso", x => x.tenant_id);
                    table.ForeignKey(
                        name: "fk_tenant_sso_tenants_tenant_id",
                        column: x => x.tenant_id,
                        principalTable: "tenants",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.Sql("""
                ALTER TABLE tenant_sso ENABLE ROW LEVEL SECURITY;
                CREATE POLICY tenant_isolation ON tenant_sso
                    USING (tenant_id = tokage_current_tenant())
                    WITH CHECK (tenant_id = tokage_current_tenant());
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "tenant_sso");

            migrationBuilder.DropColumn(
                name: "time_zone",
                table: "tenants");
        }
    }
}
