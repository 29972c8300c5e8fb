//! Compose files: any text is an error with a field path or a state, never
//! a panic; a state gives safe rules.
#![no_main]

use bridgewall::compose;
use bridgewall::model::daemon_config::DaemonConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(state) = compose::from_str(text, "fuzz", &DaemonConfig::default()) {
        let fw = state.firewall_state();
        // Wide port ranges are valid but slow to plan: the parse is what
        // is fuzzed here, the planner's scale is measured elsewhere.
        let bindings: usize = fw.endpoints.iter().map(|e| e.bindings.len()).sum();
        if bindings <= 64 {
            bridgewall_fuzz::check_state(&fw);
        }
    }
});
