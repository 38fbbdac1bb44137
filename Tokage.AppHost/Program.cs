using Tokage.AppHost;
using Tokage.AppHost.Engines;
using Tokage.AppHost.Publishing;

var builder = DistributedApplication.CreateBuilder(args);

// Engines: containers when a runtime answers, local processes when not, a configured connection string always wins.
var engines = builder.ChooseEngineProvider();
var redis = builder.AddRedisEngine("redis", engines.Provider, engines.State);
var database = builder.AddPostgresEngine("postgres", "tokage", engines.Provider, engines.State);
var events = builder.AddEventLogEngine("events", engines.Provider, redis);
var analyticsStore = builder.AddClickHouseEngine("analytics", engines.Provider, engines.State);
var analytics = analyticsStore.Owner;
var archive = builder.AddObjectStoreEngine("archive", engines.Provider, engines.State);

// Secrets the services share: the admin APIs' token (locally one, in .tokage/secrets/admin-token where the CLI finds
// it; in a deployment one per service), the pseudonym key and the price feed's token.
var adminToken = builder.AddSharedSecret("admin-token", engines);
// The key that pseudonymises personal values: the processor stores users with it, readers look users up with it.
var piiKey = builder.AddSharedSecret("pii-key", engines);
// What the processor shows the price registry to read its feed (which carries tenants' negotiated prices).
var priceFeedToken = builder.AddSharedSecret("price-feed-token", engines);

// The database's owner is the migrator's alone: it makes the roles and the schema, then exits. Each service connects as
// a role that owns nothing: the application role (RLS binds it), the price registry's and the audit log's.
var appRole = new DatabaseRole("tokage_app", builder.AddSharedSecret("tokage-app-password", engines));
var pricesRole = new DatabaseRole("tokage_prices", builder.AddSharedSecret("tokage-prices-password", engines));
var auditRole = new DatabaseRole("tokage_audit", builder.AddSharedSecret("tokage-audit-password", engines));
var migrator = builder.AddDatabaseMigrator<Projects.DatabaseMigrator>("database-migrator", database, appRole, pricesRole, auditRole);

// The nine services. The control plane's admin token is also the synthetic monitor's, which creates its operations tenant.
var controlPlaneToken = builder.AddAdminToken("control-plane", adminToken);
var controlPlane = builder.AddService<Projects.ControlPlane>("control-plane", httpPort: 8070)
    .WithEngine(redis).WithDatabase(database, appRole, migrator)
    .WithEnvironment("Tokage__ControlPlane__AdminToken", controlPlaneToken)
    .WithWebhookTargets();

var auth = builder.AddService<Projects.Auth>("auth")
    .WithEngine(redis).WithDatabase(database, appRole, migrator)
    .WithEnvironment("Tokage__Auth__CacheSigningKey", builder.AddSharedSecret("key-cache-signing-key", engines));

// Its gRPC feed (snapshot + changes) is what the processor prices from, discovered as http://_grpc.price-registry.
// It also reprices stored events after a price correction (adjustments into the usage store). Tenants manage their own
// overrides with their keys or sessions (through auth).
var priceRegistry = builder.AddService<Projects.PriceRegistry>("price-registry", httpPort: 8060)
    .WithDatabase(database, pricesRole, migrator).WithEngine(analytics).WithEngine(redis)
    .WithEnvironment("Tokage__PriceRegistry__AdminToken", builder.AddAdminToken("price-registry", adminToken))
    .WithEnvironment("Tokage__PriceRegistry__FeedToken", priceFeedToken)
    .WithService(auth);

var ingestion = builder.AddService<Projects.Ingestion>("ingestion", httpPort: 8080, grpcPort: 8081)
    .WithEndpoint("otlp-grpc", 4317, http2: true)
    .WithEndpoint("otlp-http", 4318, http2: false)
    .WithEngine(redis).WithEventLog(events)
    .WithService(auth);

builder.AddService<Projects.EventProcessor>("event-processor")
    .WithEngine(redis).WithEventLog(events).WithEngine(analytics).WithEngine(archive)
    .WithEnvironment("Tokage__DataPolicy__PiiHashKey", piiKey)
    .WithEnvironment("Tokage__Processor__PriceFeedToken", priceFeedToken)
    .WithService(priceRegistry);

var queryApi = builder.AddService<Projects.QueryApi>("query-api", httpPort: 8090)
    .WithEngine(redis).WithDatabase(database, appRole, migrator).WithEngine(analyticsStore.Reader, "analytics")
    .WithEnvironment("Tokage__QueryApi__AdminToken", builder.AddAdminToken("query-api", adminToken))
    .WithEnvironment("Tokage__DataPolicy__PiiHashKey", piiKey)
    .WithService(auth);

// Budgets and billing (customers, plans, invoices); its API takes tenant keys (through auth) and its admin token.
var billing = builder.AddService<Projects.BillingPipeline>("billing-pipeline", httpPort: 8075)
    .WithEngine(redis).WithDatabase(database, appRole, migrator).WithEngine(analytics).WithEngine(archive)
    .WithEnvironment("Tokage__Billing__AdminToken", builder.AddAdminToken("billing-pipeline", adminToken))
    .WithEnvironment("Tokage__DataPolicy__PiiHashKey", piiKey)
    .WithWebhookTargets()
    .WithService(auth);

// Drains the services' audit outbox into hash chains, seals each hour write-once to the object store, and serves
// reading and verification to tenants' admins (their keys and sessions, through auth) and the operator.
var auditLog = builder.AddService<Projects.AuditLog>("audit-log", httpPort: 8065)
    .WithDatabase(database, auditRole, migrator).WithEngine(archive).WithEngine(redis)
    .WithEnvironment("Tokage__Audit__AdminToken", builder.AddAdminToken("audit-log", adminToken))
    .WithService(auth);

// Probes every public ingest path as its own operations tenant (events classified OPS) through to the query API, checks
// the rollups against the raw rows and the processor's lag, and serves the SLIs and freshness burn-rate alerts on 8099.
builder.AddService<Projects.SyntheticMonitor>("synthetic-monitor", httpPort: 8099)
    .WithEventLog(events).WithEngine(analyticsStore.Reader, "analytics")
    .WithEnvironment("Tokage__Monitor__AdminToken", controlPlaneToken)
    .WithService(ingestion).WithService(queryApi).WithService(priceRegistry).WithService(controlPlane);

// The tenants' console: members sign in (the control plane's sessions) and act through the same APIs as everyone else.
var console = builder.AddWebFrontend<Projects.Console>("console", httpPort: 8050)
    .WithEngine(redis)
    .WithService(controlPlane).WithService(queryApi).WithService(priceRegistry).WithService(billing).WithService(ingestion).WithService(auditLog);
controlPlane.WithConsoleLinks(console, engines);

// Publishing: --publisher manifest (Aspire's own) or --publisher kubernetes (generated from the same model).
builder.AddKubernetesPublishing();

builder.Build().Run();
