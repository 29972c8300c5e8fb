//! daemon.json: any text is an error or a config, never a panic; a config
//! gives safe rules for its default bridge.
#![no_main]

use bridgewall::model::daemon_config::DaemonConfig;
use bridgewall::model::state::StateBuilder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(config) = DaemonConfig::from_json(text) else {
        return;
    };
    if let Ok(state) = StateBuilder::new(config) {
        bridgewall_fuzz::check_state(&state.build().firewall_state());
    }
});
