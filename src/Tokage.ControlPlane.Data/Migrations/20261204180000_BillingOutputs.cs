using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations;

/// <summary>
/// Billing outputs beside Stripe: the tenant's billing webhooks (each event recorded once, in the transaction of the
/// change it reports, then delivered to every endpoint subscribed to its type with every attempt kept); the day's usage
/// lines frozen when its statement closes, and the daily exports written from them; and reconciliations of a provider's
/// cost report against metered cost. Tenant-owned, under the same RLS policy as the rest.
/// </summary>
[DbContext(typeof(ControlPlaneDbContext))]
[Migration("20261204180000_BillingOutputs")]
public partial class BillingOutputs : Migration
{
    private static readonly string[] TenantOwnedTables =
    [
        "billing_webhooks", "billing_events", "billing_webhook_deliveries", "billing_webhook_attempts", "daily_usage_lines", "billing_exports",
        "reconciliations", "reconciliation_rows",
    ];

    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE billing_webhooks (
                id              uuid PRIMARY KEY,
                tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                url             text NOT NULL,
                signing_secret  text NOT NULL,
                events          text[] NOT NULL,
                created_at      timestamptz NOT NULL
            );

            -- One row per thing that happened: (type, subject) is unique, so an invoice is reported issued once however
            -- many replicas or retries record it.
            CREATE TABLE billing_events (
                id          uuid PRIMARY KEY,
                tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                type        varchar(64) NOT NULL,
                subject     varchar(200) NOT NULL,
                body        text NOT NULL,
                created_at  timestamptz NOT NULL,
                UNIQUE (tenant_id, type, subject)
            );
            CREATE INDEX ix_billing_events_created ON billing_events (tenant_id, created_at);

            CREATE TABLE billing_webhook_deliveries (
                id                uuid PRIMARY KEY,
                tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                webhook_id        uuid NOT NULL REFERENCES billing_webhooks (id) ON DELETE CASCADE,
                event_id          uuid NOT NULL REFERENCES billing_events (id) ON DELETE CASCADE,
                status            varchar(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
                attempts          integer NOT NULL DEFAULT 0,
                next_attempt_at   timestamptz NOT NULL,
                leased_until      timestamptz NULL,
                last_status_code  integer NULL,
                last_error        text NULL,
                delivered_at      timestamptz NULL,
                created_at        timestamptz NOT NULL,
                UNIQUE (webhook_id, event_id)
            );
            CREATE INDEX ix_billing_webhook_deliveries_due ON billing_webhook_deliveries (tenant_id, status, next_attempt_at);

            CREATE TABLE billing_webhook_attempts (
                id           uuid PRIMARY KEY,
                tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                delivery_id  uuid NOT NULL REFERENCES billing_webhook_deliveries (id) ON DELETE CASCADE,
                attempt      integer NOT NULL,
                status_code  integer NULL,
                error        text NULL,
                at           timestamptz NOT NULL
            );
            CREATE INDEX ix_billing_webhook_attempts_delivery ON billing_webhook_attempts (delivery_id);

            -- A closed day's usage per customer id, provider, model and application, written with its statement and never
            -- again: what the day's export is made of, so a rerun makes the same bytes.
            ALTER TABLE daily_statement_days ADD COLUMN has_lines boolean NOT NULL DEFAULT false;
            CREATE TABLE daily_usage_lines (
                tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                day                 date NOT NULL,
                customer            varchar(200) NOT NULL,
                provider            varchar(100) NOT NULL,
                model               varchar(200) NOT NULL,
                application         varchar(200) NOT NULL,
                events              bigint NOT NULL,
                unpriced_events     bigint NOT NULL,
                input_tokens        bigint NOT NULL,
                output_tokens       bigint NOT NULL,
                cache_read_tokens   bigint NOT NULL,
                cache_write_tokens  bigint NOT NULL,
                reasoning_tokens    bigint NOT NULL,
                cost_usd            numeric(38, 12) NOT NULL,
                PRIMARY KEY (tenant_id, day, customer, provider, model, application)
            );

            CREATE TABLE billing_exports (
                tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                day           date NOT NULL,
                manifest_key  text NOT NULL,
                manifest      text NOT NULL,
                exported_at   timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, day)
            );

            CREATE TABLE reconciliations (
                id                  uuid PRIMARY KEY,
                tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                provider            varchar(32) NOT NULL,
                format              varchar(32) NOT NULL,
                report_sha256       char(64) NOT NULL,
                period_start        date NOT NULL,
                period_end          date NOT NULL CHECK (period_end > period_start),
                threshold_percent   numeric(9, 4) NOT NULL,
                provider_total_usd  numeric(38, 12) NOT NULL,
                tokage_total_usd    numeric(38, 12) NOT NULL,
                flagged_rows        integer NOT NULL,
                created_at          timestamptz NOT NULL
            );
            CREATE INDEX ix_reconciliations_period ON reconciliations (tenant_id, provider, period_start);

            CREATE TABLE reconciliation_rows (
                reconciliation_id    uuid NOT NULL REFERENCES reconciliations (id) ON DELETE CASCADE,
                tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                position             integer NOT NULL,
                day                  date NOT NULL,
                provider             varchar(32) NOT NULL,
                model                varchar(200) NOT NULL,
                line_items           text[] NOT NULL,
                provider_amount_usd  numeric(38, 12) NOT NULL,
                tokage_amount_usd    numeric(38, 12) NOT NULL,
                tokage_events        bigint NOT NULL,
                unpriced_events      bigint NOT NULL,
                flagged              boolean NOT NULL,
                PRIMARY KEY (reconciliation_id, position)
            );
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
    }

    /// <inheritdoc />
    protected override void Down(MigrationBuilder migrationBuilder) =>
        migrationBuilder.Sql("""
            DROP TABLE reconciliation_rows, reconciliations, billing_exports, daily_usage_lines, billing_webhook_attempts, billing_webhook_deliveries,
                billing_events, billing_webhooks;
            ALTER TABLE daily_statement_days DROP COLUMN has_lines;
            """);
}
