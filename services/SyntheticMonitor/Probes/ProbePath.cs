namespace Tokage.SyntheticMonitor.Probes;

/// <summary>The four public ways an event comes in; each is probed on its own.</summary>
public enum ProbePath
{
    NativeHttp,
    NativeGrpc,
    OtlpHttp,
    OtlpGrpc,
}

public static class ProbePaths
{
    public static string Label(this ProbePath path) => path switch
    {
        ProbePath.NativeHttp => "native_http",
        ProbePath.NativeGrpc => "native_grpc",
        ProbePath.OtlpHttp => "otlp_http",
        _ => "otlp_grpc",
    };
}
