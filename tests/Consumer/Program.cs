// A user's app built only from the CapsEmbedded package: it checks what the generator made of my.safetensors (a tiny
// network: `capsnet init --arch tiny --seed 16`, another architecture than the repository's MNIST model), runs one
// prediction against the package's scalar reference model, and exits non-zero on any mismatch.
using System.Reflection;
using CapsEmbedded.Runtime;
using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

var failures = new List<string>();
void Check(bool ok, string what)
{
    Console.WriteLine($"  {(ok ? "ok  " : "FAIL")} {what}");
    if (!ok) failures.Add(what);
}

// The weight file as embedded by the package's targets (as it is, or packed when it is wholly F16; ReadFile reads either):
// the generator's constants must describe exactly these bytes.
byte[] file = EmbeddedWeights.ReadFile(Assembly.GetExecutingAssembly(), MyCapsNet.WeightsResourceName);
// `sha256sum my.safetensors` of the committed file (hashed here, not at run time: OpenSSL is not on every board).
const string ExpectedSha256 = "01930ad3959cc74e71b58030d520e22564310ab18ce15934b907672884ee7c14";

Console.WriteLine($"generated constants of {nameof(MyCapsNet)} ({MyCapsNet.WeightsFileName}, {MyCapsNet.WeightsFileLength} bytes):");
Console.WriteLine($"  input {MyCapsNet.InputSize}x{MyCapsNet.InputSize}x{MyCapsNet.InputChannels}, " +
                  $"{MyCapsNet.PrimaryCapsules} primary capsules, {MyCapsNet.Classes} classes x {MyCapsNet.ClassDims}D, " +
                  $"{MyCapsNet.RoutingIterations} routing iterations, {MyCapsNet.ParameterCount} parameters, " +
                  $"{MyCapsNet.MultiplyAdds} multiply-adds, sha256 {MyCapsNet.WeightsSha256}");
// The tiny architecture (CapsNetArchitecture.Tiny): 10x10 input, conv1 4@3x3, 2 types x 4D @3x3/2, 3 classes x 4D.
Check(MyCapsNet.InputSize == 10 && MyCapsNet.InputChannels == 1 && MyCapsNet.InputLength == 100, "input 10x10x1");
Check(MyCapsNet.PrimaryCapsules == 18 && MyCapsNet.Classes == 3 && MyCapsNet.ClassDims == 4, "18 primary capsules -> 3 classes x 4D");
Check(MyCapsNet.ParameterCount == 3148, "3148 parameters");
Check(MyCapsNet.WeightsFileName == "my.safetensors", "weights file name");
Check(MyCapsNet.WeightsFileLength == file.Length, $"file length constant = embedded resource length ({file.Length})");
Check(MyCapsNet.WeightsSha256 == ExpectedSha256, "sha256 constant = sha256sum of my.safetensors");

// One image (a deterministic pattern in [0, 1]); the compiled model against the package's reference model.
var image = new float[MyCapsNet.InputLength];
for (int i = 0; i < image.Length; i++) image[i] = (i * 37 % 101) / 100f;
using var workspace = new MyCapsNet.Workspace();
var lengths = new float[MyCapsNet.Classes];
int predicted = MyCapsNet.Predict(MyCapsNet.Weights.Embedded, workspace, image, lengths);
long before = GC.GetAllocatedBytesForCurrentThread();
predicted = MyCapsNet.Predict(MyCapsNet.Weights.Embedded, workspace, image, lengths);
long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

var reference = ReferenceModel.Forward(CapsNetWeightsFile.Read(file, MyCapsNet.WeightsFileName), image);
Console.WriteLine($"prediction ({MyCapsNet.ActiveTier}): class {predicted}, lengths [{string.Join(", ", lengths)}]");
Console.WriteLine($"reference model:        class {reference.PredictedClass}, lengths [{string.Join(", ", reference.Lengths)}]");
// 1e-5 relative: the kernels sum in another order than the reference's loops (the repository's ModelCheck bound).
double worst = 0;
for (int j = 0; j < lengths.Length; j++)
    worst = Math.Max(worst, Math.Abs(lengths[j] - reference.Lengths[j]) / Math.Max(Math.Abs(reference.Lengths[j]), 1e-6));
Check(worst <= 1e-5, $"lengths match the reference model (worst relative error {worst:G3})");
Check(predicted == reference.PredictedClass, "same class as the reference model");
Check(allocated == 0, $"Predict allocated {allocated} bytes");

if (failures.Count > 0)
{
    Console.Error.WriteLine($"consumer check failed: {string.Join("; ", failures)}");
    return 1;
}
Console.WriteLine("consumer check passed");
return 0;

[CapsNetModel("my.safetensors")]
static partial class MyCapsNet;
