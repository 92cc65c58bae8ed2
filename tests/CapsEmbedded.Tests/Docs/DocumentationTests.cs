using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CapsEmbedded.Cli;
using CapsEmbedded.Tests.Onnx;

namespace CapsEmbedded.Tests.Docs;

/// <summary>
/// The README stays a front page a newcomer reads in five minutes, every relative link and anchor in README.md and
/// docs/*.md resolves as GitHub renders it, and docs/CLI.md documents every command and option `capsnet` has.
/// </summary>
public sealed partial class DocumentationTests
{
    private const int MaxReadmeLines = 120, MaxLineLength = 120;

    private static readonly string Root = Path.GetDirectoryName(OnnxExportTests.FindRepositoryFile("CapsEmbedded.sln"))!;

    [Fact]
    public void The_README_is_at_most_120_lines_of_at_most_120_characters()
    {
        string[] lines = Lines(Path.Combine(Root, "README.md"));
        Assert.True(lines.Length <= MaxReadmeLines, $"README.md has {lines.Length} lines, more than {MaxReadmeLines}");
        AssertLineLengths("README.md", lines);
    }

    [Fact]
    public void The_docs_pages_written_for_the_README_split_wrap_at_120_characters()
    {
        foreach (string page in new[] { "CLI", "LIBRARY", "WEIGHTS", "ARM64", "C-API", "ONNX", "TORCHSHARP", "PERFORMANCE", "TESTING" })
            AssertLineLengths($"docs/{page}.md", Lines(Path.Combine(Root, "docs", page + ".md")));
    }

    [Fact]
    public void The_README_keeps_the_two_set_up_commands()
    {
        string readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        Assert.Contains("dotnet run -c Release --project src/CapsEmbedded.Cli -- data fetch mnist && \\\n" +
                        "dotnet run -c Release --project src/CapsEmbedded.Cli -- eval --data mnist\n", readme);
        Assert.Contains("\ndotnet test CapsEmbedded.sln -c Release\n", readme);
    }

    [Fact]
    public void Every_relative_link_and_anchor_in_the_README_and_docs_resolves()
    {
        var pages = new[] { Path.Combine(Root, "README.md") }.Concat(Directory.GetFiles(Path.Combine(Root, "docs"), "*.md"));
        var broken = new List<string>();
        int checkedLinks = 0;
        foreach (string page in pages)
        {
            foreach (string link in Links(page))
            {
                checkedLinks++;
                string? problem = Problem(page, link);
                if (problem is not null) broken.Add($"{Path.GetRelativePath(Root, page)}: ({link}) {problem}");
            }
        }
        Assert.True(checkedLinks > 50, $"only {checkedLinks} links found: the link pattern no longer matches");
        Assert.True(broken.Count == 0, string.Join('\n', broken));
    }

    [Fact]
    public void Every_capsnet_command_has_a_CLI_md_section_linked_from_the_README()
    {
        string readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        HashSet<string> headings = [.. Anchors(Path.Combine(Root, "docs", "CLI.md"))];
        var commands = Commands().ToList();
        Assert.True(commands.Count >= 15, $"only {commands.Count} commands found");
        foreach (var (name, _) in commands)
        {
            string anchor = Slug(name);
            Assert.True(headings.Contains(anchor), $"docs/CLI.md has no section `{name}` (#{anchor})");
            Assert.Contains($"(docs/CLI.md#{anchor})", readme);
        }
    }

    [Fact]
    public void Every_option_and_argument_of_every_command_is_in_its_CLI_md_section()
    {
        string[] cli = Lines(Path.Combine(Root, "docs", "CLI.md"));
        var missing = new List<string>();
        foreach (var (name, command) in Commands())
        {
            string section = Section(cli, $"## `{name}`");
            foreach (var option in command.Options.Where(o => o.Name is not ("--help" or "--version")))
                if (!section.Contains($"`{option.Name}", StringComparison.Ordinal) && !section.Contains($" {option.Name} <", StringComparison.Ordinal))
                    missing.Add($"{name} {option.Name}");
            // An argument is listed as "- `<name>`" (or "- `<a|b|c>`" where it takes one of a few values).
            int listed = Regex.Count(section, @"^- `<", RegexOptions.Multiline);
            if (name != "serve" && listed < command.Arguments.Count)
                missing.Add($"{name}: {command.Arguments.Count} argument(s), {listed} listed");
        }
        Assert.True(missing.Count == 0, "not in docs/CLI.md: " + string.Join(", ", missing));
    }

    [Theory]
    [InlineData("Peers: ONNX Runtime and PyTorch on the same weights (`bench/peers/run.sh`)",
                "peers-onnx-runtime-and-pytorch-on-the-same-weights-benchpeersrunsh")]
    [InlineData("int8 (issue 12: `capsnet quantize`, `--precision int8`)", "int8-issue-12-capsnet-quantize---precision-int8")]
    [InlineData("MultiMNIST 36×36 against MNIST 28×28", "multimnist-3636-against-mnist-2828")]
    [InlineData("`data fetch`", "data-fetch")]
    [InlineData("See [the README](x.md)", "see-the-readme")]
    public void Slugs_are_GitHubs(string heading, string slug) => Assert.Equal(slug, Slug(heading));

    /// <summary>Every leaf command with its name as written after <c>capsnet</c> ("data fetch").</summary>
    private static IEnumerable<(string Name, Command Command)> Commands()
    {
        static IEnumerable<(string, Command)> Walk(string prefix, Command command) =>
            command.Subcommands.Count == 0
                ? [(prefix, command)]
                : command.Subcommands.SelectMany(c => Walk(prefix.Length == 0 ? c.Name : $"{prefix} {c.Name}", c));
        return Walk("", CapsNetCli.Build());
    }

    /// <summary>The text from <paramref name="heading"/> to the next heading of its level or above.</summary>
    private static string Section(string[] lines, string heading)
    {
        int start = Array.IndexOf(lines, heading);
        Assert.True(start >= 0, $"docs/CLI.md has no line '{heading}'");
        var text = new StringBuilder();
        for (int i = start + 1; i < lines.Length && !lines[i].StartsWith("## ", StringComparison.Ordinal); i++)
            text.AppendLine(lines[i]);
        return text.ToString();
    }

    private static string? Problem(string page, string link)
    {
        if (link.StartsWith("http://", StringComparison.Ordinal) || link.StartsWith("https://", StringComparison.Ordinal)
            || link.StartsWith("mailto:", StringComparison.Ordinal))
            return null;
        int hash = link.IndexOf('#');
        string path = hash < 0 ? link : link[..hash], anchor = hash < 0 ? "" : link[(hash + 1)..];
        string target = path.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, path));
        if (!target.StartsWith(Root, StringComparison.Ordinal)) return "points outside the repository";
        if (!File.Exists(target) && !Directory.Exists(target)) return "no such file";
        if (anchor.Length == 0) return null;
        if (!target.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) return "an anchor into a file that is not markdown";
        return Anchors(target).Contains(anchor) ? null : $"no heading #{anchor} in {Path.GetRelativePath(Root, target)}";
    }

    /// <summary>The link targets of a page: <c>[text](target)</c> and <c>![alt](target)</c>, outside code.</summary>
    private static IEnumerable<string> Links(string page)
    {
        foreach (string line in Prose(Lines(page)))
            foreach (Match m in LinkPattern().Matches(InlineCode().Replace(line, "")))
                yield return m.Groups[1].Value;
    }

    /// <summary>The anchors GitHub gives a page's headings (a repeated slug gets -1, -2, …).</summary>
    private static List<string> Anchors(string page)
    {
        var seen = new Dictionary<string, int>();
        var anchors = new List<string>();
        foreach (string line in Prose(Lines(page)))
        {
            var m = HeadingPattern().Match(line);
            if (!m.Success) continue;
            string slug = Slug(m.Groups[1].Value);
            int n = seen.GetValueOrDefault(slug);
            seen[slug] = n + 1;
            anchors.Add(n == 0 ? slug : $"{slug}-{n}");
        }
        return anchors;
    }

    /// <summary>GitHub's heading slug: link text for links, lower case, only letters, digits, '-', '_' and spaces kept,
    /// spaces turned into '-'.</summary>
    private static string Slug(string heading)
    {
        string text = LinkText().Replace(heading.Trim(), "$1").ToLowerInvariant();
        var slug = new StringBuilder();
        foreach (char c in text)
        {
            var category = char.GetUnicodeCategory(c);
            if (char.IsLetterOrDigit(c) || c is '-' or '_' || category is UnicodeCategory.NonSpacingMark) slug.Append(c);
            else if (c == ' ') slug.Append('-');
        }
        return slug.ToString();
    }

    /// <summary>The lines outside fenced code blocks.</summary>
    private static IEnumerable<string> Prose(string[] lines)
    {
        bool fenced = false;
        foreach (string line in lines)
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) { fenced = !fenced; continue; }
            if (!fenced) yield return line;
        }
    }

    private static void AssertLineLengths(string name, string[] lines)
    {
        var longLines = lines.Select((line, i) => (line, number: i + 1)).Where(l => l.line.Length > MaxLineLength)
            .Select(l => $"{name}:{l.number} has {l.line.Length} characters").ToList();
        Assert.True(longLines.Count == 0, string.Join('\n', longLines));
    }

    private static string[] Lines(string path) => File.ReadAllText(path).TrimEnd('\n').Split('\n');

    [GeneratedRegex(@"!?\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex LinkPattern();

    [GeneratedRegex(@"`[^`]*`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"^#{1,6}\s+(.*?)\s*#*$")]
    private static partial Regex HeadingPattern();

    [GeneratedRegex(@"\[([^\]]*)\]\([^)]*\)")]
    private static partial Regex LinkText();
}
