using System.Numerics;

namespace CapsEmbedded.Training.Layers;

/// <summary>Squash (eq. 1): v = |s|²/(1+|s|²) · s/|s|, and v = 0 for s = 0; with its gradient.</summary>
public static class SquashLayer
{
    /// <summary>v[i] = squash(s[i]) for <paramref name="count"/> vectors of <paramref name="dims"/>.</summary>
    public static void Forward<T>(ReadOnlySpan<T> s, int count, int dims, Span<T> v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < count; i++)
        {
            var si = s.Slice(i * dims, dims);
            var vi = v.Slice(i * dims, dims);
            T q = T.Zero;
            for (int d = 0; d < dims; d++) q += si[d] * si[d];
            // f(q) = √q / (1 + q): the factor that multiplies s.
            T f = q == T.Zero ? T.Zero : q / ((T.One + q) * T.Sqrt(q));
            for (int d = 0; d < dims; d++) vi[d] = f * si[d];
        }
    }

    /// <summary>
    /// ds = f·dv + 2 f′(q) (s·dv) s with q = |s|², f = √q/(1+q), 2f′(q) = (1−q)/(√q (1+q)²); ds = 0 at s = 0,
    /// where squash is flat (it grows like s|s|).
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> s, ReadOnlySpan<T> dv, int count, int dims, Span<T> ds)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < count; i++)
        {
            var si = s.Slice(i * dims, dims);
            var dvi = dv.Slice(i * dims, dims);
            var dsi = ds.Slice(i * dims, dims);
            T q = T.Zero, sdv = T.Zero;
            for (int d = 0; d < dims; d++) { q += si[d] * si[d]; sdv += si[d] * dvi[d]; }
            if (q == T.Zero) { dsi.Clear(); continue; }
            T r = T.Sqrt(q), onePlus = T.One + q;
            T f = r / onePlus;
            T g = (T.One - q) / (r * onePlus * onePlus) * sdv;
            for (int d = 0; d < dims; d++) dsi[d] = f * dvi[d] + g * si[d];
        }
    }
}
