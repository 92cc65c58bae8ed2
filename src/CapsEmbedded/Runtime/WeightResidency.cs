namespace CapsEmbedded.Runtime;

/// <summary>
/// Where a compiled model's embedded F16 weights (the primary conv's panels and W: 83 % of the paper network's values)
/// live while it runs. All give the same outputs, bit for bit. Widening once at load removes the per-image widening
/// (compute, which threads splitting an image share) but doubles the weight bytes every image streams from one DRAM, so
/// the faster choice depends on the thread count: bench/RESULTS.md "Edge figures" estimates both on Raspberry Pi cores.
/// A weight file loaded from disk is always widened at load (it is packed as float32).
/// </summary>
public enum WeightResidency
{
    /// <summary>
    /// F16, read where they lie in the binary's read-only data and widened a cache block at a time on every image: no
    /// private copy, half the DRAM bytes per image. The default, and the faster choice when several threads split an image.
    /// </summary>
    InPlace,

    /// <summary>
    /// Widened to float32 once at first use (for MNIST ≈ 13.6 MB more private memory, a few ms at load), so no image
    /// widens anything: the faster choice on one thread of an in-order core (Cortex-A53/A55), whose widening is slow.
    /// </summary>
    Widened,

    /// <summary>
    /// The primary conv's panels widened to float32 once at first use (for MNIST ≈ 10.6 MB more private memory), W left in
    /// F16 and read in place: the GEMM that holds most of the multiply-adds widens nothing per image, while û streams
    /// half W's bytes and widens them. The faster choice on one thread of a core whose widening is cheap against its DRAM
    /// (Cortex-A76, Pi 5: there û is bound by streaming float32 W, not by the widening).
    /// </summary>
    WidenedPrimary,
}
