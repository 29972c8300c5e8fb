//! The API's request bodies: any bytes are a decoding error, a refusal, or
//! a change whose rules are safe, never a panic. The first byte picks the
//! body: network create, sandbox create, connect or disconnect.
#![no_main]

use bridgewall::api::sandbox::SandboxCreateRequest;
use bridgewall::api::types::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use bridgewall::daemon::networks::spec_from_request;
use bridgewall::model::daemon_config::DaemonConfig;
use bridgewall::model::port_spec::PortSpec;
use bridgewall::model::state::{Attachment, DEFAULT_BRIDGE_NETWORK, StateBuilder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let mut state = StateBuilder::new(DaemonConfig::default()).expect("default config");
    match which % 4 {
        0 => {
            let Ok(req) = serde_json::from_slice::<NetworkCreateRequest>(body) else {
                return;
            };
            let Ok(spec) = spec_from_request(&req) else {
                return;
            };
            if state.add_network(&spec).is_ok() {
                let attach = [Attachment::new(spec.name.clone())];
                let _ = state.add_container("c1", &attach, &[]);
                bridgewall_fuzz::check_state(&state.build().firewall_state());
            }
        }
        1 => {
            let Ok(req) = serde_json::from_slice::<SandboxCreateRequest>(body) else {
                return;
            };
            let mut mappings = Vec::new();
            for spec in &req.publish {
                match PortSpec::parse(spec) {
                    Ok(p) => mappings.extend(p.mappings()),
                    Err(_) => return,
                }
            }
            // A wide range of host ports is valid but slow to plan (one rule
            // per port, each checked against its chain): the decoding is
            // what is fuzzed here, the planner's scale is measured elsewhere.
            if mappings.len() > 64 {
                return;
            }
            let attach = [Attachment::new(DEFAULT_BRIDGE_NETWORK)];
            if state.add_container("c1", &attach, &mappings).is_ok() {
                bridgewall_fuzz::check_state(&state.build().firewall_state());
            }
        }
        2 => {
            let _ = serde_json::from_slice::<NetworkConnectRequest>(body);
        }
        _ => {
            let _ = serde_json::from_slice::<NetworkDisconnectRequest>(body);
        }
    }
});
