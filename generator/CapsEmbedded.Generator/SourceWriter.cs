using System.Text;

namespace CapsEmbedded.Generator
{
    /// <summary>
    /// An indented text writer for emitting readable C#, after System.Text.Json's generator: <see cref="Write"/> takes
    /// one line or a multi-line template (a raw string literal with interpolation) and indents every line of it, so an
    /// emitter reads like the code it writes. A multi-line interpolated value is indented as a whole at the template's
    /// level, so place one only at the start of a template line.
    /// </summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _text = new StringBuilder();
        private int _indent;

        /// <summary>Writes <paramref name="text"/>, each of its lines indented (blank lines stay empty), and a line break.</summary>
        public SourceWriter Write(string text)
        {
            foreach (string raw in text.Split('\n'))
            {
                string line = raw.TrimEnd('\r', ' ');
                if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
                _text.Append('\n');
            }
            return this;
        }

        /// <summary>An empty line.</summary>
        public SourceWriter Line()
        {
            _text.Append('\n');
            return this;
        }

        /// <summary>Writes <paramref name="line"/> (when not empty) and an opening brace, then indents.</summary>
        public SourceWriter Open(string line)
        {
            if (line.Length > 0) Write(line);
            Write("{");
            _indent++;
            return this;
        }

        /// <summary>Unindents and writes the closing brace.</summary>
        public SourceWriter Close()
        {
            _indent--;
            return Write("}");
        }

        public override string ToString() => _text.ToString();
    }
}
