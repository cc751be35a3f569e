import Foundation
import PackagePlugin

/// Writes the git commit the sources are at into a Swift file of the target
/// (`buildCommit`), so `seti-dist --version` names what it was built from. SwiftPM runs it
/// when it evaluates the package's plugins (after the manifest changed: `launch/install`
/// touches Package.swift for that). The file is rewritten only when the commit changes, so
/// it costs no recompilation otherwise.
@main
struct BuildInfo: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("Generated")
        let script = """
            commit=$(git -c safe.directory='*' -C "$1" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
            if [ "$commit" != unknown ] && [ -n "$(git -c safe.directory='*' -C "$1" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
                commit="$commit+changes"
            fi
            mkdir -p "$2"
            printf '/// The git commit this binary was built from (written by Plugins/BuildInfo).\\nlet buildCommit = "%s"\\n' "$commit" > "$2/BuildCommit.swift.new"
            if cmp -s "$2/BuildCommit.swift.new" "$2/BuildCommit.swift"; then rm "$2/BuildCommit.swift.new"; else mv "$2/BuildCommit.swift.new" "$2/BuildCommit.swift"; fi
            """
        return [.prebuildCommand(
            displayName: "Recording the git commit of the sources",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: ["-c", script, "build-info", context.package.directoryURL.path, output.path],
            outputFilesDirectory: output)]
    }
}
