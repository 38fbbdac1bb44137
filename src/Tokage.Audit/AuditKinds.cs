namespace Tokage.Audit;

/// <summary>What a record says happened: <c>&lt;resource&gt;.&lt;change&gt;</c>; <c>?kind=key</c> lists every key change.</summary>
public static class AuditKinds
{
    public const string TenantCreated = "tenant.created";
    public const string TenantUpdated = "tenant.updated";
    public const string TenantSettingsChanged = "tenant.settings_changed";
    public const string TenantSuspended = "tenant.suspended";
    public const string TenantActivated = "tenant.activated";

    public const string KeyCreated = "key.created";
    public const string KeyRotated = "key.rotated";
    public const string KeyRevoked = "key.revoked";

    public const string MemberInvited = "member.invited";
    public const string MemberReinvited = "member.reinvited";
    public const string MemberJoined = "member.joined";
    public const string MemberRoleChanged = "member.role_changed";
    public const string MemberRemoved = "member.removed";
    public const string MemberPasswordReset = "member.password_reset";

    public const string SsoConfigured = "sso.configured";
    public const string SsoRemoved = "sso.removed";

    public const string BudgetCreated = "budget.created";
    public const string BudgetUpdated = "budget.updated";
    public const string BudgetDeleted = "budget.deleted";

    public const string PriceAdded = "price.added";
    public const string PriceCorrected = "price.corrected";
    public const string PricesImported = "price.imported";
    public const string PricesSeeded = "price.seeded";

    public const string BillingSettingsChanged = "billing.settings_changed";
    public const string CustomerCreated = "customer.created";
    public const string CustomerUpdated = "customer.updated";
    public const string PlanCreated = "plan.created";
    public const string SubscriptionCreated = "subscription.created";
    public const string SubscriptionChanged = "subscription.changed";
    public const string CreditGrantCreated = "credit_grant.created";
    public const string InvoiceIssued = "invoice.issued";
    public const string InvoiceVoided = "invoice.voided";
    public const string InvoicePaid = "invoice.paid";
    public const string StripeConnected = "stripe.connected";
    public const string StripeDisconnected = "stripe.disconnected";
    public const string WebhookCreated = "webhook.created";
    public const string WebhookDeleted = "webhook.deleted";
}
