//! Compose files: any text is an error with a field path or a state, never
//! a panic; a state gives safe rules.
#![no_main]

use bridgewall::compose;
use bridgewall::model::daemon_config::DaemonConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(state) = compose::from_str(text, "fuzz", &DaemonConfig::default()) {
        bridgewall_fuzz::check_state(&state.firewall_state());
    }
});
