using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations;

/// <summary>
/// Stripe meter sync: a tenant's Stripe connection (its secret key encrypted with the billing pipeline's key, never
/// returned), the outbox of meter events (one row per customer, charge, hour and sequence number, with the deterministic
/// identifier Stripe deduplicates by) and every attempt to send one. Tenant-owned, under the same RLS policy as the rest.
/// </summary>
[DbContext(typeof(ControlPlaneDbContext))]
[Migration("20261204140000_StripeMeterSync")]
public partial class StripeMeterSync : Migration
{
    private static readonly string[] TenantOwnedTables = ["stripe_connections", "stripe_meter_events", "stripe_meter_attempts"];

    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE stripe_connections (
                tenant_id             uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                secret_key_protected  text NOT NULL,
                key_hint              varchar(32) NOT NULL,
                livemode              boolean NOT NULL,
                connected_at          timestamptz NOT NULL,
                updated_at            timestamptz NOT NULL
            );

            -- value: what this event adds to the hour; cumulative: the hour's total once it is counted. A later, larger total
            -- is sent as a further row (the next seq) with its own identifier, never by changing one already sent.
            CREATE TABLE stripe_meter_events (
                id                  uuid PRIMARY KEY,
                tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                customer_id         uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                charge_key          varchar(100) NOT NULL,
                event_name          varchar(100) NOT NULL,
                stripe_customer_id  varchar(100) NOT NULL,
                hour                timestamptz NOT NULL,
                seq                 integer NOT NULL CHECK (seq >= 1),
                value               numeric(38, 0) NOT NULL CHECK (value > 0),
                cumulative          numeric(38, 0) NOT NULL,
                identifier          varchar(100) NOT NULL,
                status              varchar(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'parked')),
                attempts            integer NOT NULL DEFAULT 0,
                next_attempt_at     timestamptz NOT NULL,
                leased_until        timestamptz NULL,
                last_error          text NULL,
                sent_at             timestamptz NULL,
                created_at          timestamptz NOT NULL,
                UNIQUE (tenant_id, customer_id, charge_key, event_name, hour, seq),
                UNIQUE (tenant_id, identifier)
            );
            CREATE INDEX ix_stripe_meter_events_due ON stripe_meter_events (tenant_id, status, next_attempt_at);

            CREATE TABLE stripe_meter_attempts (
                id              uuid PRIMARY KEY,
                tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                meter_event_id  uuid NOT NULL REFERENCES stripe_meter_events (id) ON DELETE CASCADE,
                attempt         integer NOT NULL,
                status_code     integer NULL,
                error           text NULL,
                at              timestamptz NOT NULL
            );
            CREATE INDEX ix_stripe_meter_attempts_event ON stripe_meter_attempts (meter_event_id);
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
        migrationBuilder.Sql("DROP TABLE stripe_meter_attempts, stripe_meter_events, stripe_connections;");
}
