namespace CapsEmbedded.Interop;

/// <summary>
/// The opaque handles that generated C exports hand out: a slot index plus a generation count, never a pointer, so a
/// freed, forged or wrong-kind handle is detected by one array read instead of crashing. Thread-safe: create and free
/// take a lock; <see cref="Get{T}"/> is lock-free and allocation-free (each slot is an immutable object, replaced whole).
/// Limit: the generation has 12 bits, so a stale handle is caught until its slot has been reused 4095 times.
/// </summary>
public static class NativeHandles
{
    // Handle value = generation << IndexBits | (index + 1); 0 is never a handle (C's NULL).
    private const int IndexBits = 20;
    private const nuint IndexMask = (1u << IndexBits) - 1;
    // Generations wrap within what fits above the index bits of a 32-bit pointer, so handles stay valid on 32-bit too.
    private const uint GenerationMask = (1u << (32 - IndexBits)) - 1;

    private sealed class Slot(object? target, uint generation)
    {
        public readonly object? Target = target;
        public readonly uint Generation = generation;
    }

    private static readonly object s_lock = new();
    private static Slot?[] s_slots = new Slot?[16];
    private static readonly Stack<int> s_free = new();
    private static int s_used;

    /// <summary>Registers <paramref name="target"/> and returns its handle (never 0).</summary>
    public static nint Add(object target)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (s_lock)
        {
            int index;
            if (s_free.Count > 0) index = s_free.Pop();
            else
            {
                if (s_used == s_slots.Length)
                {
                    if (s_slots.Length > (int)IndexMask / 2)
                        throw new NativeCallException(NativeStatus.OutOfMemory, $"more than {IndexMask} handles are alive: free some");
                    var grown = new Slot?[s_slots.Length * 2];
                    Array.Copy(s_slots, grown, s_slots.Length);
                    Volatile.Write(ref s_slots, grown);
                }
                index = s_used++;
            }
            uint generation = ((s_slots[index]?.Generation ?? 0) + 1) & GenerationMask;
            if (generation == 0) generation = 1;
            Volatile.Write(ref s_slots[index], new Slot(target, generation));
            return (nint)(((nuint)generation << IndexBits) | (nuint)(index + 1));
        }
    }

    /// <summary>The object behind a live handle of type <typeparamref name="T"/>, or null (freed, unknown or other kind).</summary>
    public static T? Get<T>(nint handle) where T : class
    {
        if (!TryDecode(handle, out int index, out uint generation)) return null;
        var slots = Volatile.Read(ref s_slots);
        if (index >= slots.Length) return null;
        var slot = Volatile.Read(ref slots[index]);
        return slot is not null && slot.Generation == generation ? slot.Target as T : null;
    }

    /// <summary>Unregisters a live handle of type <typeparamref name="T"/> and returns its object, or null (nothing removed).</summary>
    public static T? Remove<T>(nint handle) where T : class
    {
        if (!TryDecode(handle, out int index, out uint generation)) return null;
        lock (s_lock)
        {
            if (index >= s_used) return null;
            var slot = s_slots[index];
            if (slot is null || slot.Generation != generation || slot.Target is not T target) return null;
            Volatile.Write(ref s_slots[index], new Slot(null, generation)); // keeps the generation: the next Add bumps it
            s_free.Push(index);
            return target;
        }
    }

    private static bool TryDecode(nint handle, out int index, out uint generation)
    {
        nuint value = (nuint)handle;
        index = (int)(value & IndexMask) - 1;
        nuint high = value >> IndexBits;
        generation = (uint)(high & GenerationMask);
        return index >= 0 && generation != 0 && high == generation;
    }
}
