using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations;

/// <summary>
/// The price registry's append-only price versions (public and tenant overrides), made here so that the registry
/// needs no more than SELECT and INSERT on them. Written to adopt a table the registry created itself before this
/// migration existed (every statement is idempotent). A trigger refuses UPDATE and DELETE, even by the owner.
/// </summary>
[DbContext(typeof(ControlPlaneDbContext))]
[Migration("20261203160000_PriceVersions")]
public partial class PriceVersions : Migration
{
    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE IF NOT EXISTS price_versions (
                id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                tenant_id      text NOT NULL DEFAULT '',
                model_key      text NOT NULL,
                provider       text NOT NULL,
                effective_from timestamptz NOT NULL,
                prices         jsonb NOT NULL,
                source         text NOT NULL,
                recorded_at    timestamptz NOT NULL DEFAULT now()
            );
            ALTER TABLE price_versions ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT '';
            ALTER TABLE price_versions DROP CONSTRAINT IF EXISTS price_versions_model_key_effective_from_key;
            CREATE UNIQUE INDEX IF NOT EXISTS price_versions_tenant_model_from ON price_versions (tenant_id, model_key, effective_from);
            CREATE OR REPLACE FUNCTION tokage_price_versions_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'price versions are never rewritten: add a new version instead';
            END $$;
            DROP TRIGGER IF EXISTS price_versions_are_kept ON price_versions;
            CREATE TRIGGER price_versions_are_kept BEFORE UPDATE OR DELETE ON price_versions
                FOR EACH ROW EXECUTE FUNCTION tokage_price_versions_are_kept();
            """);
    }

    /// <inheritdoc />
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP TABLE IF EXISTS price_versions;
            DROP FUNCTION IF EXISTS tokage_price_versions_are_kept();
            """);
    }
}
