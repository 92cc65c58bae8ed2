namespace CapsEmbedded.Reference;

/// <summary>The arithmetic the reference model computes in; outputs are <see cref="float"/> either way.</summary>
public enum ReferencePrecision
{
    /// <summary>Every product and sum in <see cref="float"/>, as the runtime does (the fast paths' oracle).</summary>
    Single,

    /// <summary>Weights and pixels widened to <see cref="double"/>, every sum in double, rounded to float at the end.</summary>
    Double,
}
