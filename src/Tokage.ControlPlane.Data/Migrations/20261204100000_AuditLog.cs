using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Tokage.ControlPlane.Data.Migrations;

/// <summary>
/// The audit log. <c>audit_outbox</c>: what a changing service writes in the change's own transaction (its roles may
/// only INSERT; <c>tx</c> is the writing transaction's id, <c>position</c> its order within). <c>audit_records</c>
/// (the tenants' hash chains), <c>audit_heads</c> (the global chain over their heads) and <c>audit_segments</c> (the
/// sealed hours): audit-log's, whose role may only INSERT and SELECT. Every audit table is write-once for everyone,
/// its owner included: a trigger refuses UPDATE, DELETE and TRUNCATE.
/// </summary>
[DbContext(typeof(ControlPlaneDbContext))]
[Migration("20261204100000_AuditLog")]
public partial class AuditLog : Migration
{
    /// <inheritdoc />
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE TABLE audit_outbox (
                id                uuid PRIMARY KEY,
                position          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
                tx                xid8 NOT NULL DEFAULT pg_current_xact_id(),
                tenant_id         uuid NULL,
                occurred_at       timestamptz NOT NULL DEFAULT now(),
                kind              text NOT NULL,
                subject           text NOT NULL,
                actor_type        text NOT NULL,
                actor_id          text NOT NULL,
                actor_address     text NULL,
                actor_user_agent  text NULL,
                before            jsonb NULL,
                after             jsonb NULL
            );
            CREATE INDEX audit_outbox_drain ON audit_outbox (tx, position);

            CREATE TABLE audit_records (
                id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                tenant_id         uuid NOT NULL,
                seq               bigint NOT NULL,
                outbox_id         uuid NOT NULL UNIQUE,
                outbox_tx         xid8 NOT NULL,
                outbox_position   bigint NOT NULL,
                occurred_at       timestamptz NOT NULL,
                recorded_at       timestamptz NOT NULL,
                kind              text NOT NULL,
                subject           text NOT NULL,
                actor_type        text NOT NULL,
                actor_id          text NOT NULL,
                actor_address     text NULL,
                actor_user_agent  text NULL,
                before            jsonb NULL,
                after             jsonb NULL,
                prev_hash         text NOT NULL,
                hash              text NOT NULL,
                UNIQUE (tenant_id, seq)
            );
            CREATE INDEX audit_records_tenant_time ON audit_records (tenant_id, occurred_at, id);
            CREATE INDEX audit_records_recorded ON audit_records (recorded_at, id);
            CREATE INDEX audit_records_drained ON audit_records (outbox_tx, outbox_position);

            CREATE TABLE audit_heads (
                seq               bigint PRIMARY KEY,
                tenant_id         uuid NOT NULL,
                chain_seq         bigint NOT NULL,
                chain_hash        text NOT NULL,
                recorded_at       timestamptz NOT NULL,
                prev_hash         text NOT NULL,
                hash              text NOT NULL
            );
            CREATE INDEX audit_heads_recorded ON audit_heads (recorded_at, seq);

            CREATE TABLE audit_segments (
                starts_at         timestamptz PRIMARY KEY,
                ends_at           timestamptz NOT NULL,
                object_key        text NOT NULL,
                records           integer NOT NULL,
                heads             integer NOT NULL,
                head_hash         text NOT NULL,
                sha256            text NOT NULL,
                retain_until      timestamptz NULL,
                sealed_at         timestamptz NOT NULL
            );

            CREATE FUNCTION tokage_audit_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'audit tables are write-once: % on % is refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
            END $$;
            CREATE TRIGGER audit_outbox_write_once BEFORE UPDATE OR DELETE ON audit_outbox FOR EACH ROW EXECUTE FUNCTION tokage_audit_write_once();
            CREATE TRIGGER audit_outbox_no_truncate BEFORE TRUNCATE ON audit_outbox FOR EACH STATEMENT EXECUTE FUNCTION tokage_audit_write_once();
            CREATE TRIGGER audit_records_write_once BEFORE UPDATE OR DELETE ON audit_records FOR EACH ROW EXECUTE FUNCTION tokage_audit_write_once();
            CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records FOR EACH STATEMENT EXECUTE FUNCTION tokage_audit_write_once();
            CREATE TRIGGER audit_heads_write_once BEFORE UPDATE OR DELETE ON audit_heads FOR EACH ROW EXECUTE FUNCTION tokage_audit_write_once();
            CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads FOR EACH STATEMENT EXECUTE FUNCTION tokage_audit_write_once();
            CREATE TRIGGER audit_segments_write_once BEFORE UPDATE OR DELETE ON audit_segments FOR EACH ROW EXECUTE FUNCTION tokage_audit_write_once();
            CREATE TRIGGER audit_segments_no_truncate BEFORE TRUNCATE ON audit_segments FOR EACH STATEMENT EXECUTE FUNCTION tokage_audit_write_once();
            """);
    }

    /// <inheritdoc />
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        // Audit records are not taken back by a migration.
        throw new NotSupportedException("The audit log's tables are write-once; this migration is not reverted.");
    }
}
