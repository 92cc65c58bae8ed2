using System.Text;

namespace CapsEmbedded.Generator
{
    /// <summary>A small indented text writer for emitting readable C#.</summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _text = new StringBuilder();
        private int _indent;

        public SourceWriter Line(string line = "")
        {
            if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
            _text.Append('\n');
            return this;
        }

        public SourceWriter Open(string line)
        {
            if (line.Length > 0) Line(line);
            Line("{");
            _indent++;
            return this;
        }

        public SourceWriter Close(string suffix = "")
        {
            _indent--;
            return Line("}" + suffix);
        }

        /// <summary>A method: its one-line summary (none when null), signature and braced body, then a blank line.</summary>
        public SourceWriter Method(string? summary, string signature, params string[] body)
        {
            if (summary is not null) Line($"/// <summary>{summary}</summary>");
            Open(signature);
            foreach (string line in body) Line(line);
            Close();
            return Line();
        }

        /// <summary>An expression-bodied method: its one-line summary (none when null), signature, "=> expression;" below, then a blank line.</summary>
        public SourceWriter ExpressionMethod(string? summary, string signature, string expression)
        {
            if (summary is not null) Line($"/// <summary>{summary}</summary>");
            Line(signature);
            Line($"    => {expression};");
            return Line();
        }

        public override string ToString() => _text.ToString();
    }
}
