using CapsEmbedded.Generator.Tests.Generated;
using CapsEmbedded.Interop;
using CapsEmbedded.TestSupport;

namespace CapsEmbedded.Generator.Tests.Native;

/// <summary>The C exports' inference calls (predict_top included) and class_name allocate nothing once warm (in the allocation tests' serial collection).</summary>
[Collection(nameof(AllocationTests))]
public class NativeAllocationTests
{
    [Fact]
    public void Warm_predict_and_class_name_calls_allocate_nothing()
    {
        Assert.Equal(NativeStatus.Ok, TinyApi.WeightsEmbedded(out nint weights));
        Assert.Equal(NativeStatus.Ok, TinyApi.WorkspaceCreate(out nint workspace));
        var image = TestData.RandomImage(TinyCapsNet.InputLength, 9);
        var lengths = new float[TinyCapsNet.Classes];
        var capsules = new float[TinyCapsNet.DecoderInput];
        var reconstruction = new float[TinyCapsNet.DecoderOutput];
        var name = new byte[16];
        var top = new int[2];
        void Calls(int k)
        {
            TinyApi.Predict(weights, workspace, image, lengths);
            TinyApi.PredictTop(weights, workspace, image, lengths, top);
            TinyApi.Capsules(weights, workspace, image, capsules);
            TinyApi.Reconstruct(weights, workspace, image, reconstruction);
            TinyApi.ClassName(weights, k % TinyCapsNet.Classes, name);
        }
        // Warm past tiered compilation before measuring: call counting, then tier-1 code installed after a delay
        // (100 quick calls alone left 5,712 B to the measured loop in one fresh-clone CI run).
        for (int round = 0; round < 2; round++)
        {
            for (int k = 0; k < 100; k++) Calls(k);
            Thread.Sleep(500);
        }
        Assert.Equal(0, Allocations.OnThisThread(0, 200, Calls));
        Assert.Equal(NativeStatus.Ok, TinyApi.WorkspaceFree(workspace));
        Assert.Equal(NativeStatus.Ok, TinyApi.WeightsFree(weights));
    }
}
