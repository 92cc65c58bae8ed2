// A user's app built only from the CapsEmbedded package: it checks what the generator made of my.safetensors (a tiny
// network: `capsnet init --arch tiny --seed 16`, another architecture than the repository's MNIST model) and of
// my-efficient.safetensors (its own copy of an Efficient-CapsNet file: .ci/nuget.sh copies weights/mnist-efficient.safetensors),
// runs one prediction of each against the package's scalar reference models, and exits non-zero on any mismatch.
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

// A weight file as embedded by the package's targets (as it is, or packed when it is wholly F16; ReadFile reads either):
// the generator's constants must describe exactly these bytes. expectedSha256 is `sha256sum` of the committed file.
byte[] EmbeddedFile(string resourceName, long lengthConstant, string sha256Constant, string expectedSha256, string prefix, string committed)
{
    byte[] bytes = EmbeddedWeights.ReadFile(Assembly.GetExecutingAssembly(), resourceName);
    Check(lengthConstant == bytes.Length, $"{prefix}file length constant = embedded resource length ({bytes.Length})");
    Check(sha256Constant == expectedSha256, $"{prefix}sha256 constant = sha256sum of {committed}");
    return bytes;
}

// Two calls of one prediction: the class the second, warm, call returns and the bytes it allocated on this thread.
(int Class, long Allocated) PredictTwice(Func<int> predict)
{
    predict();
    long before = GC.GetAllocatedBytesForCurrentThread();
    int predicted = predict();
    return (predicted, GC.GetAllocatedBytesForCurrentThread() - before);
}

void PrintBeside(string tier, int predicted, float[] lengths, ReferenceOutput reference)
{
    Console.WriteLine($"prediction ({tier}): class {predicted}, lengths [{string.Join(", ", lengths)}]");
    Console.WriteLine($"reference model:        class {reference.PredictedClass}, lengths [{string.Join(", ", reference.Lengths)}]");
}

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
byte[] file = EmbeddedFile(MyCapsNet.WeightsResourceName, MyCapsNet.WeightsFileLength, MyCapsNet.WeightsSha256, ExpectedSha256,
    "", "my.safetensors");

// One image (a deterministic pattern in [0, 1]); the compiled model against the package's reference model.
var image = new float[MyCapsNet.InputLength];
for (int i = 0; i < image.Length; i++) image[i] = (i * 37 % 101) / 100f;
using var workspace = new MyCapsNet.Workspace();
var lengths = new float[MyCapsNet.Classes];
var (predicted, allocated) = PredictTwice(() => MyCapsNet.Predict(MyCapsNet.Weights.Embedded, workspace, image, lengths));

var reference = ReferenceModel.Forward(CapsNetWeightsFile.Read(file, MyCapsNet.WeightsFileName), image);
PrintBeside(MyCapsNet.ActiveTier.ToString(), predicted, lengths, reference);
// 1e-5 relative: the kernels sum in another order than the reference's loops (the repository's ModelCheck bound).
double worst = 0;
for (int j = 0; j < lengths.Length; j++)
    worst = Math.Max(worst, Math.Abs(lengths[j] - reference.Lengths[j]) / Math.Max(Math.Abs(reference.Lengths[j]), 1e-6));
Check(worst <= 1e-5, $"lengths match the reference model (worst relative error {worst:G3})");
Check(predicted == reference.PredictedClass, "same class as the reference model");
Check(allocated == 0, $"Predict allocated {allocated} bytes");

// The Efficient-CapsNet family from the same package: another generated model (stem, depthwise primary capsules,
// self-attention routing) from the consumer's own copy of the file, against EfficientReferenceModel.
// `sha256sum weights/mnist-efficient.safetensors` of the committed file the copy is made from.
const string ExpectedEfficientSha256 = "31f20cdbc89079322ec0f98d580a49c65f5266c90c928cfadd7ec0773ba71788";
Console.WriteLine($"generated constants of {nameof(MyEfficientCapsNet)} ({MyEfficientCapsNet.WeightsFileName}, {MyEfficientCapsNet.WeightsFileLength} bytes):");
Console.WriteLine($"  input {MyEfficientCapsNet.InputSize}x{MyEfficientCapsNet.InputSize}x{MyEfficientCapsNet.InputChannels}, " +
                  $"stem -> {MyEfficientCapsNet.PrimaryChannels} channels, {MyEfficientCapsNet.PrimaryCapsules} primary capsules x " +
                  $"{MyEfficientCapsNet.PrimaryDims}D, {MyEfficientCapsNet.Classes} classes x {MyEfficientCapsNet.ClassDims}D, " +
                  $"{MyEfficientCapsNet.MultiplyAdds} multiply-adds, sha256 {MyEfficientCapsNet.WeightsSha256}");
Check(MyEfficientCapsNet.InputSize == 28 && MyEfficientCapsNet.InputChannels == 1 && MyEfficientCapsNet.InputLength == 784, "efficient: input 28x28x1");
Check(MyEfficientCapsNet.PrimaryCapsules == 16 && MyEfficientCapsNet.PrimaryDims == 8, "efficient: 16 primary capsules x 8D");
Check(MyEfficientCapsNet.Classes == 10 && MyEfficientCapsNet.ClassDims == 16, "efficient: 10 classes x 16D");
Check(MyEfficientCapsNet.MultiplyAdds == 31_544_448, "efficient: 31,544,448 multiply-adds");
byte[] efficientFile = EmbeddedFile(MyEfficientCapsNet.WeightsResourceName, MyEfficientCapsNet.WeightsFileLength,
    MyEfficientCapsNet.WeightsSha256, ExpectedEfficientSha256, "efficient: ", "weights/mnist-efficient.safetensors");

// A digit-like image: a vertical stroke, in [0, 1].
var stroke = new float[MyEfficientCapsNet.InputLength];
for (int y = 5; y < 23; y++)
    for (int x = 13; x < 16; x++) stroke[y * 28 + x] = 1f;
using var efficientWorkspace = new MyEfficientCapsNet.Workspace();
var efficientLengths = new float[MyEfficientCapsNet.Classes];
var reconstruction = new float[MyEfficientCapsNet.DecoderOutput];
(int efficientClass, allocated) = PredictTwice(() =>
    MyEfficientCapsNet.Predict(MyEfficientCapsNet.Weights.Embedded, efficientWorkspace, stroke, efficientLengths, default, reconstruction));

var efficientReference = EfficientReferenceModel.Forward(EfficientCapsNetWeightsFile.Read(efficientFile, MyEfficientCapsNet.WeightsFileName), stroke);
PrintBeside(MyEfficientCapsNet.ActiveTier.ToString(), efficientClass, efficientLengths, efficientReference);
// 1e-5 relative + 1e-6 absolute (lengths near 0): the repository's EfficientModelCheck bound; the decoder's output 1e-5.
worst = 0; // the worst length error as a share of its bound
for (int j = 0; j < efficientLengths.Length; j++)
    worst = Math.Max(worst, Math.Abs(efficientLengths[j] - efficientReference.Lengths[j]) / (1e-5 * Math.Abs(efficientReference.Lengths[j]) + 1e-6));
Check(worst <= 1, $"efficient: lengths match the reference model (worst error {worst:G3} of its 1e-5 relative + 1e-6 bound)");
double worstPixel = 0;
for (int t = 0; t < reconstruction.Length; t++)
    worstPixel = Math.Max(worstPixel, Math.Abs(reconstruction[t] - efficientReference.Reconstruction[t]));
Check(worstPixel <= 1e-5, $"efficient: reconstruction matches the reference model (worst {worstPixel:G3})");
Check(efficientClass == efficientReference.PredictedClass, "efficient: same class as the reference model");
Check(efficientClass == 1, $"efficient: the stroke is a 1 (class {efficientClass})");
Check(allocated == 0, $"efficient: Predict allocated {allocated} bytes");

if (failures.Count > 0)
{
    Console.Error.WriteLine($"consumer check failed: {string.Join("; ", failures)}");
    return 1;
}
Console.WriteLine("consumer check passed");
return 0;

[CapsNetModel("my.safetensors")]
static partial class MyCapsNet;

[CapsNetModel("my-efficient.safetensors")]
static partial class MyEfficientCapsNet;
