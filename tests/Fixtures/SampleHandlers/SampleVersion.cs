namespace SampleHandlers;

/// <summary>The version compiled into this build: "v1" from SampleHandlers.csproj, "v2" from VariantB.</summary>
public static class SampleVersion
{
#if SAMPLE_VARIANT_B
    /// <summary>The version text every greeting carries.</summary>
    public const string Text = "v2";
#else
    /// <summary>The version text every greeting carries.</summary>
    public const string Text = "v1";
#endif
}
