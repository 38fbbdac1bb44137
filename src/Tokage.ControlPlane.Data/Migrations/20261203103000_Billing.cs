using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations;

/// <summary>
/// Billing the tenant's own customers: customers and the ids events name them by, versioned plans, subscriptions,
/// credit grants and their drawdowns, invoices (with the adjustments they carry) and closed daily statements. The
/// billing pipeline reads and writes these with SQL of its own (they are not in the EF model); all tenant-owned,
/// under the same RLS policy as every other table. An issued invoice cannot be edited or deleted, by anyone but the
/// owner: only its status moves on (issued → paid or void).
/// </summary>
[DbContext(typeof(ControlPlaneDbContext))]
[Migration("20261203103000_Billing")]
public partial class Billing : Migration
{
    // Frozen with this migration, like the earlier migrations' lists.
    private static readonly string[] TenantOwnedTables =
        ["billing_settings", "customers", "customer_ids", "plans", "plan_versions", "subscriptions", "credit_grants", "invoices",
         "invoice_adjustments", "credit_drawdowns", "daily_statements"];

    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE billing_settings (
                tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
                grace_hours integer NOT NULL DEFAULT 24 CHECK (grace_hours >= 0),
                last_invoice_number bigint NOT NULL DEFAULT 0
            );

            CREATE TABLE customers (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                external_id varchar(128) NOT NULL,
                name varchar(200) NOT NULL DEFAULT '',
                email varchar(320) NOT NULL DEFAULT '',
                time_zone varchar(64) NOT NULL DEFAULT 'UTC',
                stripe_customer_id varchar(100) NOT NULL DEFAULT '',
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                UNIQUE (tenant_id, external_id)
            );

            -- Every id events may name a customer by: its external id and its aliases, each unique in the tenant.
            CREATE TABLE customer_ids (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                value varchar(128) NOT NULL,
                customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
                is_alias boolean NOT NULL,
                PRIMARY KEY (tenant_id, value)
            );
            CREATE INDEX ix_customer_ids_customer_id ON customer_ids (customer_id);

            CREATE TABLE plans (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                key varchar(100) NOT NULL,
                name varchar(200) NOT NULL DEFAULT '',
                created_at timestamptz NOT NULL,
                UNIQUE (tenant_id, key)
            );

            -- Append-only: a change to a plan is a new version.
            CREATE TABLE plan_versions (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                plan_id uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
                version integer NOT NULL CHECK (version >= 1),
                definition jsonb NOT NULL,
                created_at timestamptz NOT NULL,
                UNIQUE (plan_id, version)
            );

            CREATE TABLE subscriptions (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                customer_id uuid NOT NULL REFERENCES customers (id),
                plan_version_id uuid NOT NULL REFERENCES plan_versions (id),
                start_date date NOT NULL,
                end_date date,
                anchor_day integer NOT NULL CHECK (anchor_day BETWEEN 1 AND 31),
                -- A plan change: the version that takes over from the period starting on next_from.
                next_plan_version_id uuid REFERENCES plan_versions (id),
                next_from date,
                created_at timestamptz NOT NULL,
                CHECK (end_date IS NULL OR end_date > start_date)
            );
            CREATE INDEX ix_subscriptions_customer_id ON subscriptions (customer_id);

            CREATE TABLE credit_grants (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                customer_id uuid NOT NULL REFERENCES customers (id),
                amount_usd numeric(20, 2) NOT NULL CHECK (amount_usd > 0),
                effective_at timestamptz NOT NULL,
                expires_at timestamptz,
                priority integer NOT NULL DEFAULT 0,
                description varchar(200) NOT NULL DEFAULT '',
                created_at timestamptz NOT NULL
            );
            CREATE INDEX ix_credit_grants_customer_id ON credit_grants (customer_id);

            -- One invoice per subscription period. Drafts are rewritten as usage lands; issuing gives the next number
            -- of the tenant (billing_settings.last_invoice_number, in the same transaction: no gaps).
            CREATE TABLE invoices (
                id uuid PRIMARY KEY,
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                customer_id uuid NOT NULL REFERENCES customers (id),
                subscription_id uuid NOT NULL REFERENCES subscriptions (id),
                plan_version_id uuid NOT NULL REFERENCES plan_versions (id),
                period_start date NOT NULL,
                period_end date NOT NULL,
                status varchar(10) NOT NULL CHECK (status IN ('draft', 'issued', 'paid', 'void')),
                number bigint,
                document jsonb NOT NULL,
                subtotal_usd numeric(20, 2) NOT NULL,
                credits_usd numeric(20, 2) NOT NULL,
                total_usd numeric(20, 2) NOT NULL,
                total_unrounded_usd numeric(40, 18) NOT NULL,
                -- What the period itself cost as issued (lines without adjustments of earlier periods).
                period_subtotal_usd numeric(20, 2) NOT NULL,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                issued_at timestamptz,
                paid_at timestamptz,
                voided_at timestamptz,
                UNIQUE (subscription_id, period_start),
                UNIQUE (tenant_id, number),
                CHECK ((status = 'draft') = (number IS NULL))
            );
            CREATE INDEX ix_invoices_customer_id ON invoices (customer_id);
            CREATE INDEX ix_invoices_tenant_id_status ON invoices (tenant_id, status);

            -- The adjustments an issued invoice carries, by the earlier period they correct.
            CREATE TABLE invoice_adjustments (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                invoice_id uuid NOT NULL REFERENCES invoices (id),
                subscription_id uuid NOT NULL REFERENCES subscriptions (id),
                period_start date NOT NULL,
                amount_usd numeric(20, 2) NOT NULL,
                PRIMARY KEY (invoice_id, period_start)
            );
            CREATE INDEX ix_invoice_adjustments_subscription ON invoice_adjustments (subscription_id, period_start);

            CREATE TABLE credit_drawdowns (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                grant_id uuid NOT NULL REFERENCES credit_grants (id),
                invoice_id uuid NOT NULL REFERENCES invoices (id),
                amount_usd numeric(20, 2) NOT NULL CHECK (amount_usd > 0),
                PRIMARY KEY (grant_id, invoice_id)
            );

            -- A closed day of usage per customer id as events named it ('' for none), from the usage store.
            CREATE TABLE daily_statements (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                day date NOT NULL,
                customer varchar(128) NOT NULL,
                events bigint NOT NULL,
                unpriced_events bigint NOT NULL,
                input_tokens bigint NOT NULL,
                output_tokens bigint NOT NULL,
                cache_read_tokens bigint NOT NULL,
                cache_write_tokens bigint NOT NULL,
                reasoning_tokens bigint NOT NULL,
                cost_usd numeric(40, 18) NOT NULL,
                closed_at timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, day, customer)
            );
            CREATE TABLE daily_statement_days (
                tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                day date NOT NULL,
                closed_at timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, day)
            );

            CREATE FUNCTION tokage_invoice_immutable() RETURNS trigger
            LANGUAGE plpgsql
            AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    IF OLD.status <> 'draft' THEN
                        RAISE EXCEPTION 'invoice % is %: an issued invoice is never deleted', OLD.id, OLD.status;
                    END IF;
                    RETURN OLD;
                END IF;
                IF OLD.status <> 'draft' AND (
                    (to_jsonb(NEW) - ARRAY['status', 'paid_at', 'voided_at', 'updated_at'])
                        IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['status', 'paid_at', 'voided_at', 'updated_at'])
                    OR NOT (NEW.status = OLD.status OR (OLD.status = 'issued' AND NEW.status IN ('paid', 'void')))) THEN
                    RAISE EXCEPTION 'invoice % is %: an issued invoice never changes (only issued -> paid or void)', OLD.id, OLD.status;
                END IF;
                RETURN NEW;
            END
            $$;
            CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
                FOR EACH ROW EXECUTE FUNCTION tokage_invoice_immutable();
            """);

        foreach (var table in TenantOwnedTables.Append("daily_statement_days"))
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
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DROP TABLE daily_statement_days, daily_statements, credit_drawdowns, invoice_adjustments, invoices, credit_grants,
                subscriptions, plan_versions, plans, customer_ids, customers, billing_settings;
            DROP FUNCTION tokage_invoice_immutable();
            """);
    }
}
