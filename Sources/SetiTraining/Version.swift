/// seti-dist's version, printed by `seti-dist --version` with the git commit of the build.
public enum SetiDistVersion {
    public static let number = "0.22.0"
}
