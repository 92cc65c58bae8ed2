using CapsEmbedded.IO;
using System.Globalization;
using System.Text;

namespace CapsEmbedded.Training;

/// <summary>The per-epoch metrics as CSV: epoch, train_loss, train_accuracy, test_error, lr, seconds.</summary>
public static class TrainingLog
{
    public const string Header = "epoch,train_loss,train_accuracy,test_error,lr,seconds";

    public static string ToCsv(IEnumerable<EpochMetrics> history)
    {
        var text = new StringBuilder(Header).Append('\n');
        foreach (var m in history)
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"{m.Epoch},{m.TrainLoss:G6},{m.TrainAccuracy:G6},{(double.IsNaN(m.TestError) ? "" : m.TestError.ToString("G6", CultureInfo.InvariantCulture))},{m.LearningRate:G6},{m.Seconds:F1}\n"));
        return text.ToString();
    }

    /// <summary>Rewrites the whole file (atomically), so a resumed run's log holds every epoch.</summary>
    public static void Write(string path, IEnumerable<EpochMetrics> history) => AtomicFile.WriteText(path, ToCsv(history));
}
