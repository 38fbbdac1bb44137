using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations;

/// <summary>
/// Corrections of price versions and the repricings they start. A correction is a new version at the corrected one's
/// instant (<c>corrects</c> names it; versions stay append-only), so it is the one in effect there from then on: the
/// unique (tenant, model, instant) key now holds for original versions only. <c>price_repricings</c> is the work of
/// pricing stored events again — after a correction, or once a price arrives for events stored unpriced — with its
/// progress, written by the registry (its role may SELECT, INSERT and UPDATE it).
/// </summary>
[DbContext(typeof(ControlPlaneDbContext))]
[Migration("20261203190000_PriceCorrections")]
public partial class PriceCorrections : Migration
{
    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE price_versions ADD COLUMN IF NOT EXISTS corrects bigint NULL REFERENCES price_versions (id);
            DROP INDEX IF EXISTS price_versions_tenant_model_from;
            CREATE UNIQUE INDEX IF NOT EXISTS price_versions_tenant_model_from_original
                ON price_versions (tenant_id, model_key, effective_from) WHERE corrects IS NULL;
            CREATE TABLE IF NOT EXISTS price_repricings (
                id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                kind            text NOT NULL CHECK (kind IN ('correction', 'unpriced')),
                version_id      bigint NOT NULL REFERENCES price_versions (id),
                corrects        bigint NULL REFERENCES price_versions (id),
                tenant_id       text NOT NULL DEFAULT '',
                since           timestamptz NOT NULL,
                status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
                events_scanned  bigint NOT NULL DEFAULT 0,
                events_adjusted bigint NOT NULL DEFAULT 0,
                adjustments_usd numeric NOT NULL DEFAULT 0,
                cursor_tenant   text NULL,
                cursor_time_ms  bigint NULL,
                cursor_event    text NULL,
                error           text NULL,
                created_at      timestamptz NOT NULL DEFAULT now(),
                started_at      timestamptz NULL,
                heartbeat_at    timestamptz NULL,
                finished_at     timestamptz NULL
            );
            CREATE INDEX IF NOT EXISTS price_repricings_open ON price_repricings (id) WHERE status IN ('queued', 'running');
            """);
    }

    /// <inheritdoc />
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP TABLE IF EXISTS price_repricings;
            DROP INDEX IF EXISTS price_versions_tenant_model_from_original;
            ALTER TABLE price_versions DROP COLUMN IF EXISTS corrects;
            CREATE UNIQUE INDEX IF NOT EXISTS price_versions_tenant_model_from ON price_versions (tenant_id, model_key, effective_from);
            """);
    }
}
