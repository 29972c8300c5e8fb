//! The `-p` grammar: any text is an error or typed mappings, never a panic;
//! accepted specs resolve into safe rules on the default bridge.
#![no_main]

use bridgewall::model::daemon_config::DaemonConfig;
use bridgewall::model::port_spec::PortSpec;
use bridgewall::model::state::{Attachment, DEFAULT_BRIDGE_NETWORK, StateBuilder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(spec) = PortSpec::parse(text) else {
        return;
    };
    let mappings = spec.mappings();
    // A whole range of host ports is valid but slow to plan: the parse is
    // what is fuzzed here, the planner's scale is measured elsewhere.
    if mappings.len() > 64 {
        return;
    }
    let mut state = StateBuilder::new(DaemonConfig::default()).expect("default config");
    let attach = [Attachment::new(DEFAULT_BRIDGE_NETWORK)];
    if state.add_container("c1", &attach, &mappings).is_ok() {
        bridgewall_fuzz::check_state(&state.build().firewall_state());
    }
});
