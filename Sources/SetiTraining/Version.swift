/// seti-dist's version, recorded in checkpoints' configuration hash checks and printed by
/// `seti-dist --version` with the git commit of the build.
public enum SetiDistVersion {
    public static let number = "0.12.0"
}
