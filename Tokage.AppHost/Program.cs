using Tokage.AppHost;
using Tokage.AppHost.Engines;
using Tokage.AppHost.Publishing;

var builder = DistributedApplication.CreateBuilder(args);

// Engines: containers when a runtime answers, local processes when not, a configured connection string always wins.
var engines = builder.ChooseEngineProvider();
var redis = builder.AddRedisEngine("redis", engines.Provider, engines.State);
var database = builder.AddPostgresEngine("postgres", "tokage", engines.Provider, engines.State);
var events = builder.AddEventLogEngine("events", engines.Provider, redis);
var analytics = builder.AddClickHouseEngine("analytics", engines.Provider, engines.State);
var archive = builder.AddObjectStoreEngine("archive", engines.Provider, engines.State);

// Secrets the services share: the admin API's token (locally in .tokage/secrets/admin-token, where the CLI
// finds it) and the password of the database role the services run as (it owns nothing; RLS binds it).
var adminToken = builder.AddSharedSecret("admin-token", engines);
var appRolePassword = builder.AddSharedSecret("tokage-app-password", engines);
// The key that pseudonymises personal values: the processor stores users with it, readers look users up with it.
var piiKey = builder.AddSharedSecret("pii-key", engines);
// What the processor shows the price registry to read its feed (which carries tenants' negotiated prices).
var priceFeedToken = builder.AddSharedSecret("price-feed-token", engines);

// The nine services.
var controlPlane = builder.AddService<Projects.ControlPlane>("control-plane", httpPort: 8070)
    .WithEngine(redis).WithEngine(database)
    .WithEnvironment("Tokage__ControlPlane__AdminToken", adminToken)
    .WithEnvironment("Tokage__Database__AppRolePassword", appRolePassword)
    .WithWebhookTargets();

// Starts once the control plane has migrated the database it reads keys from.
var auth = builder.AddService<Projects.Auth>("auth")
    .WithEngine(redis).WithEngine(database)
    .WithEnvironment("Tokage__Auth__CacheSigningKey", builder.AddSharedSecret("key-cache-signing-key", engines))
    .WithEnvironment("Tokage__Database__AppRolePassword", appRolePassword)
    .WaitFor(controlPlane);

// Its gRPC feed (snapshot + changes) is what the processor prices from, discovered as http://_grpc.price-registry.
var priceRegistry = builder.AddService<Projects.PriceRegistry>("price-registry", httpPort: 8060)
    .WithEngine(database)
    .WithEnvironment("Tokage__PriceRegistry__AdminToken", adminToken)
    .WithEnvironment("Tokage__PriceRegistry__FeedToken", priceFeedToken);

var ingestion = builder.AddService<Projects.Ingestion>("ingestion", httpPort: 8080, grpcPort: 8081)
    .WithEndpoint("otlp-grpc", 4317, http2: true)
    .WithEndpoint("otlp-http", 4318, http2: false)
    .WithEngine(redis).WithEngine(events)
    .WithService(auth);

builder.AddService<Projects.EventProcessor>("event-processor")
    .WithEngine(redis).WithEngine(events).WithEngine(analytics).WithEngine(archive)
    .WithEnvironment("Tokage__DataPolicy__PiiHashKey", piiKey)
    .WithEnvironment("Tokage__Processor__PriceFeedToken", priceFeedToken)
    .WithService(priceRegistry);

var queryApi = builder.AddService<Projects.QueryApi>("query-api", httpPort: 8090)
    .WithEngine(redis).WithEngine(database).WithEngine(analytics)
    .WithEnvironment("Tokage__QueryApi__AdminToken", adminToken)
    .WithEnvironment("Tokage__DataPolicy__PiiHashKey", piiKey)
    .WithEnvironment("Tokage__Database__AppRolePassword", appRolePassword)
    .WithService(auth)
    .WaitFor(controlPlane);

// Budgets and billing (customers, plans, invoices) as the application role, so it starts once the control plane has
// migrated and created the role; its API takes tenant keys (through auth) and the admin token.
builder.AddService<Projects.BillingPipeline>("billing-pipeline", httpPort: 8075)
    .WithEngine(redis).WithEngine(database).WithEngine(analytics).WithEngine(archive)
    .WithEnvironment("Tokage__Billing__AdminToken", adminToken)
    .WithEnvironment("Tokage__DataPolicy__PiiHashKey", piiKey)
    .WithEnvironment("Tokage__Database__AppRolePassword", appRolePassword)
    .WithWebhookTargets()
    .WithService(auth)
    .WaitFor(controlPlane);

builder.AddService<Projects.AuditLog>("audit-log")
    .WithEngine(database).WithEngine(archive);

builder.AddService<Projects.SyntheticMonitor>("synthetic-monitor")
    .WithService(ingestion).WithService(queryApi).WithService(controlPlane);

// Publishing: --publisher manifest (Aspire's own) or --publisher kubernetes (generated from the same model).
builder.AddKubernetesPublishing();

builder.Build().Run();
