//! The `bridgewall` command.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Test builds: crash points armed by FAILPOINTS.
    #[cfg(feature = "failpoints")]
    let _crash_points = fail::FailScenario::setup();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BRIDGEWALL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    bridgewall::cli::main()
}
